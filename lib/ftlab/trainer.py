"""The one trainer: `transformers.Trainer` with the plug-in points of `ftlab.plugins` wired in.

It never looks at which method or task it trains; those arrive as a model, datasets, a collator and plug-ins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import Trainer

from ftlab.plugins import LossContext, Plugins

NOT_MODEL_INPUTS = ("length",)
"""Dataset columns the sampler uses that the model must not receive."""


class FtlabTrainer(Trainer):
    def __init__(self, *args: Any, plugins: Plugins | None = None, **kwargs: Any) -> None:
        self.plugins = plugins or Plugins()
        super().__init__(*args, **kwargs)
        self._term_sums: dict[str, float] = defaultdict(float)
        self._term_counts: dict[str, int] = defaultdict(int)
        self._eval_extras: dict[str, list[np.ndarray]] = defaultdict(list)
        if self.plugins.eval_metrics:
            self.compute_metrics = self._with_plugin_metrics(self.compute_metrics)

    # -- evaluation ------------------------------------------------------------------------------------------
    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        # An evaluation draws from torch's global generator (each DataLoader iterator takes a base seed from it):
        # without this, how often a run evaluates would change its dropout masks and batches from then on.
        with torch.random.fork_rng(devices=[]):
            return super().evaluate(*args, **kwargs)

    def evaluation_loop(self, *args: Any, **kwargs: Any):
        self._eval_extras = defaultdict(list)
        return super().evaluation_loop(*args, **kwargs)

    def prediction_step(self, model: nn.Module, inputs: dict[str, Any], prediction_loss_only: bool,
                        ignore_keys: list[str] | None = None):
        if self.plugins.eval_metrics:  # kept in the loop's order, which is the order of the predictions
            for key in self.plugins.extra_columns:
                if key in inputs:
                    self._eval_extras[key].append(self.accelerator.gather_for_metrics(inputs[key]).cpu().numpy())
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)

    def _with_plugin_metrics(self, compute: Any) -> Any:
        def compute_with_plugins(eval_prediction: Any) -> dict[str, float]:
            metrics = dict(compute(eval_prediction)) if compute is not None else {}
            extras = {key: np.concatenate(parts) for key, parts in self._eval_extras.items()}
            for metric in self.plugins.eval_metrics:
                metrics.update(metric(eval_prediction, extras, metrics))
            return metrics

        return compute_with_plugins

    # -- collator plug-in: the training loader and the evaluation loaders each get their own wrapping ----------
    @contextmanager
    def _collator(self, training: bool) -> Iterator[None]:
        task_collator = self.data_collator
        for wrap in self.plugins.collator_wrappers:
            self.data_collator = wrap(self.data_collator, training)
        try:
            yield
        finally:
            self.data_collator = task_collator

    def get_train_dataloader(self):
        with self._collator(training=True):
            return super().get_train_dataloader()

    def get_eval_dataloader(self, eval_dataset=None):
        with self._collator(training=False):
            return super().get_eval_dataloader(eval_dataset)

    def get_test_dataloader(self, test_dataset):
        with self._collator(training=False):
            return super().get_test_dataloader(test_dataset)

    # -- sampler plug-in -------------------------------------------------------------------------------------
    def _get_train_sampler(self, train_dataset=None):
        if self.plugins.sampler is not None:
            return self.plugins.sampler(train_dataset if train_dataset is not None else self.train_dataset, self.args)
        return super()._get_train_sampler(train_dataset)

    # -- training-step plug-in -------------------------------------------------------------------------------
    def training_step(self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch=None) -> torch.Tensor:
        if self.plugins.training_step is None:
            return super().training_step(model, inputs, num_items_in_batch)
        return self.plugins.training_step(self, model, inputs, num_items_in_batch, super().training_step)

    # -- loss plug-in ----------------------------------------------------------------------------------------
    def compute_loss(self, model: nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch=None):
        extras = {k: inputs.pop(k) for k in self.plugins.extra_columns if k in inputs}
        for key in NOT_MODEL_INPUTS:
            inputs.pop(key, None)
        if not self.plugins.loss_terms:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        ctx = LossContext(model=model, inputs=inputs, outputs=outputs, loss=loss, extras=extras, trainer=self)
        for name, term in self.plugins.loss_terms.items():
            value = term(ctx)
            loss = loss + value
            if model.training:
                self.record_term(name, float(value.detach()))
        return (loss, outputs) if return_outputs else loss

    def record_term(self, name: str, value: float) -> None:
        """Add one value to the mean logged as `loss_<name>` beside the loss: a loss term, or a step plug-in's own
        loss (the adversarial one), so that every extra loss reaches MLflow the same way."""
        self._term_sums[f"loss_{name}"] += value
        self._term_counts[f"loss_{name}"] += 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        # Report each extra loss term's mean since the last log beside the total loss.
        if "loss" in logs and self._term_counts:
            logs.update({k: self._term_sums[k] / n for k, n in self._term_counts.items()})
            self._term_sums.clear()
            self._term_counts.clear()
        super().log(logs, start_time)

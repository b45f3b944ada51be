"""Plug-in points of the one trainer. Later features (distillation, fairness penalties, adversarial training,
reweighing, augmentation, cost tracking) attach here instead of editing the training loop.

- `loss_terms`: name -> fn(ctx) returning a scalar added to the task loss (logged as `loss_<name>`).
- `training_step`: replaces the step; receives the trainer's default step to wrap (e.g. FGM/PGD perturbations).
- `sampler`: fn(train_dataset, training_args) -> torch Sampler (reweighing, task sampling, length grouping).
- `collator_wrappers`: fn(collator, training) -> collator, called for the training loader (training=True) and
  for the evaluation loaders (False): on-the-fly augmentation changes training batches only.
- `callbacks`: `transformers.TrainerCallback`s (tracking, cancel, cost).
- `extra_columns`: frame columns carried into batches for the terms above (e.g. a sensitive attribute); they
  reach `LossContext.extras` and are never passed to the model.
- `eval_metrics`: fn(eval_prediction, extras, metrics) -> more metrics, called after each evaluation with the
  task's metrics and the evaluated rows' `extra_columns` in the order of the predictions (the Trainer may score
  the evaluation set in length-grouped order, so a frame's own row order is not that order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class LossContext:
    model: nn.Module
    inputs: dict[str, Any]
    """What the model received (labels included)."""
    outputs: Any
    """The model's outputs (logits, hidden states...)."""
    loss: torch.Tensor
    """The task loss before extra terms."""
    extras: dict[str, Any]
    """Batch values of `Plugins.extra_columns`."""
    trainer: Any


LossTerm = Callable[[LossContext], torch.Tensor]
StepFn = Callable[..., torch.Tensor]
"""fn(trainer, model, inputs, num_items_in_batch, default_step) -> detached loss; default_step has the same
signature minus `trainer` and `default_step` and runs the standard forward/backward."""
SamplerFactory = Callable[[Any, Any], "torch.utils.data.Sampler"]
EvalMetric = Callable[[Any, dict[str, Any], dict[str, float]], dict[str, float]]
"""fn(transformers' EvalPrediction, {extra column: numpy array in prediction order}, metrics so far) -> metrics."""


@dataclass
class Plugins:
    loss_terms: dict[str, LossTerm] = field(default_factory=dict)
    training_step: StepFn | None = None
    sampler: SamplerFactory | None = None
    collator_wrappers: list[Callable[[Callable, bool], Callable]] = field(default_factory=list)
    callbacks: list[Any] = field(default_factory=list)
    extra_columns: tuple[str, ...] = ()
    eval_metrics: list[EvalMetric] = field(default_factory=list)

    def merged(self, other: Plugins | None) -> Plugins:
        """Combine two sets; two training steps or two samplers cannot both apply, so that is an error."""
        if other is None:
            return self
        for name, mine, theirs in [("training_step", self.training_step, other.training_step),
                                   ("sampler", self.sampler, other.sampler)]:
            if mine is not None and theirs is not None:
                raise ValueError(f"two plug-ins both replace the {name}; combine them into one")
        clash = set(self.loss_terms) & set(other.loss_terms)
        if clash:
            raise ValueError(f"loss terms {sorted(clash)} are defined twice")
        return Plugins(
            loss_terms={**self.loss_terms, **other.loss_terms},
            training_step=self.training_step or other.training_step,
            sampler=self.sampler or other.sampler,
            collator_wrappers=[*self.collator_wrappers, *other.collator_wrappers],
            callbacks=[*self.callbacks, *other.callbacks],
            extra_columns=tuple(dict.fromkeys([*self.extra_columns, *other.extra_columns])),
            eval_metrics=[*self.eval_metrics, *other.eval_metrics],
        )

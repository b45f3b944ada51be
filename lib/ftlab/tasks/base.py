"""A task decides the head, the encoding and collator, the metrics, the main metric and the prediction format.

Tasks are registered by name; the trainer only talks to this interface.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import pandas as pd
from torch import nn

from ftlab.registry import Registry


class Task(ABC):
    name: str
    main_metric: str
    """Metric (without split prefix) that ranks runs and drives early stopping."""
    greater_is_better: bool = True
    quality_metrics: tuple[str, ...] = ()
    """Where the main metric is lower-is-better: higher-is-better metrics, in order of preference, that place a run
    on a cost-quality frontier."""

    file_group_col: str | None = None
    """Split a user's --data file so that no value of this column lands in two splits (e.g. repeated sentences)."""

    @abstractmethod
    def read_file(self, config: Any) -> pd.DataFrame:
        """The user's --data file as this task's standard frame (`ftlab.data.registry.DatasetSpec` says which)."""

    @abstractmethod
    def labels_of(self, frame: pd.DataFrame) -> list[str]:
        """The label vocabulary, in a stable order, from the training frame."""

    @abstractmethod
    def load_model(self, model_name: str, labels: list[str], *, trust_remote_code: bool = False,
                   **load_options: Any) -> nn.Module:
        """Pre-trained body + a fresh head for `labels`; sets `ftlab_new_parameters` and `ftlab_task` on it.
        `load_options` go to `from_pretrained` (a quantization config and its device map, for --load-in-bits)."""

    @abstractmethod
    def encode(self, frame: pd.DataFrame, tokenizer: Any, config: Any, labels: list[str],
               extra_columns: tuple[str, ...] = ()) -> Any:
        """Tokenised `datasets.Dataset` with model inputs, `labels`, `length` and any requested extra columns."""

    @abstractmethod
    def collator(self, tokenizer: Any, config: Any) -> Callable:
        """Turns a list of encoded examples into a padded batch."""

    @abstractmethod
    def compute_metrics(self, labels: list[str]) -> Callable[[Any], dict[str, float]]:
        """For `Trainer(compute_metrics=...)`: EvalPrediction -> flat {metric: number}."""

    def prepare_tokenizer(self, tokenizer: Any) -> Any:
        """The tokenizer as this task needs it (a causal LM's gets a chat template and a pad token)."""
        return tokenizer

    def reduce_logits(self, logits: Any, labels: Any) -> Any:
        """For `Trainer(preprocess_logits_for_metrics=...)`: what evaluation keeps of each batch's logits."""
        return logits

    def score(self, model: nn.Module, tokenizer: Any, frame: pd.DataFrame, config: Any,
              labels: list[str]) -> tuple[pd.DataFrame, dict[str, float]]:
        """Predictions table and metrics of `model` on a labelled frame: the logits of every batch, then
        `compute_metrics` and `predictions_table` on them."""
        from ftlab.scoring import score_by_logits

        return score_by_logits(self, model, tokenizer, frame, config, labels)

    def baseline_metrics(self, model: nn.Module, tokenizer: Any, frame: pd.DataFrame, config: Any,
                         labels: list[str]) -> dict[str, float]:
        """Metrics of the model before fine-tuning on the same frame, where the task reports a before/after
        (logged with a `test_base_` prefix); none by default."""
        return {}

    @abstractmethod
    def predictions_table(self, frame: pd.DataFrame, logits: Any, labels: list[str],
                          label_ids: Any = None) -> pd.DataFrame:
        """One row per example: input, gold, prediction, scores, correctness, and the frame's metadata.

        `label_ids` are the encoded gold labels as the model saw them (per token for token tasks, where -100 marks
        the positions that carry no label)."""

    @abstractmethod
    def text_report(self, table: pd.DataFrame) -> str:
        """The per-class (per-entity-type) precision/recall/F1 table of a predictions table, as text."""

    @abstractmethod
    def predict(self, model: nn.Module, tokenizer: Any, texts: list[str], labels: list[str], config: Any) -> list[dict]:
        """Predictions for raw texts, in the CLI's JSON shape (without run_id)."""


def load_with_head(auto_class: Any, model_name: str, labels: list[str], *, task: str,
                   trust_remote_code: bool = False, **load_options: Any) -> nn.Module:
    """A pre-trained body with a fresh head of `auto_class` (e.g. AutoModelForTokenClassification) for `labels`,
    marked with the parameters the checkpoint lacked (`ftlab_new_parameters`: every method trains them) and its
    task (`ftlab_task`)."""
    from ftlab.models import load_pretrained

    quiet = logging.getLogger("transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "newly initialized head" and sharding notes are expected, not news
    try:
        model, info = load_pretrained(
            auto_class, model_name, trust_remote_code=trust_remote_code, num_labels=len(labels),
            id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
            output_loading_info=True, **load_options,
        )
    finally:
        quiet.setLevel(level)
    model.ftlab_new_parameters = set(info.get("missing_keys", ()))
    model.ftlab_task = task
    return model


TASKS: Registry[Task] = Registry("task", "Choose one with --task.")


def register_task(task: Task) -> Task:
    return TASKS.register(task.name, task)


def get_task(name: str) -> Task:
    return TASKS.get(name)


def list_tasks() -> list[str]:
    return TASKS.names()

"""A task decides the head, the encoding and collator, the metrics, the main metric and the prediction format.

Tasks are registered by name; the trainer only talks to this interface.
"""

from __future__ import annotations

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

    @abstractmethod
    def labels_of(self, frame: pd.DataFrame) -> list[str]:
        """The label vocabulary, in a stable order, from the training frame."""

    @abstractmethod
    def load_model(self, model_name: str, labels: list[str], *, trust_remote_code: bool = False) -> nn.Module:
        """Pre-trained body + a fresh head for `labels`; sets `ftlab_new_parameters` and `ftlab_task` on it."""

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

    @abstractmethod
    def predictions_table(self, frame: pd.DataFrame, logits: Any, labels: list[str]) -> pd.DataFrame:
        """One row per example: input, gold, prediction, scores, correctness, and the frame's metadata."""

    @abstractmethod
    def predict(self, model: nn.Module, tokenizer: Any, texts: list[str], labels: list[str], config: Any) -> list[dict]:
        """Predictions for raw texts, in the CLI's JSON shape (without run_id)."""


TASKS: Registry[Task] = Registry("task", "Choose one with --task.")


def register_task(task: Task) -> Task:
    return TASKS.register(task.name, task)


def get_task(name: str) -> Task:
    return TASKS.get(name)


def list_tasks() -> list[str]:
    return TASKS.names()

"""The dataset registry: every built-in dataset registers a `DatasetSpec` here when its module is imported.

Specs hold a loader, not a frame, so listing datasets (CLI, app) never reads or fetches any data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ftlab.registry import Registry

TASKS = ("classification", "ner", "multitask", "sft")


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset and how to load it.

    Classification frames have `text` (str) and `label` (str) columns; any other column is metadata that is
    carried along (e.g. for per-group metrics). NER frames have `tokens` and `tags`, equal-length lists of str.
    """

    name: str
    task: str
    load: Callable[[], pd.DataFrame]
    description: str
    group_col: str | None = None
    """Split so that no value of this column lands in two splits (e.g. reviews of one film)."""


DATASETS: Registry[DatasetSpec] = Registry("dataset", "Run `ftlab datasets` to see what each holds.")


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add `spec` to the registry and return it; a duplicate or malformed name is a programming error."""
    if spec.task not in TASKS:
        raise ValueError(f"Dataset {spec.name!r} has task {spec.task!r}; expected one of {', '.join(TASKS)}.")
    return DATASETS.register(spec.name, spec)


def get_dataset(name: str) -> DatasetSpec:
    """The spec registered as `name` (or, for `a+b`, the multi-task join of registered datasets); an unknown name
    is the user's mistake, so it raises `UserError`."""
    from ftlab.data.multitask import composite_spec, is_multitask

    return composite_spec(name) if is_multitask(name) else DATASETS.get(name)


def list_datasets() -> list[DatasetSpec]:
    """Every registered spec, sorted by name."""
    return sorted(DATASETS.values(), key=lambda spec: spec.name)

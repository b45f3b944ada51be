"""The dataset registry: every built-in dataset registers a `DatasetSpec` here when its module is imported.

Specs hold a loader, not a frame, so listing datasets (CLI, app) never reads or fetches any data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ftlab.errors import UserError, did_you_mean

TASKS = ("classification", "ner")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


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


_REGISTRY: dict[str, DatasetSpec] = {}

def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add `spec` to the registry and return it; a duplicate or malformed name is a programming error."""
    if not _NAME_RE.match(spec.name):
        raise ValueError(f"Bad dataset name {spec.name!r}: use lowercase letters, digits and '_', letter first.")
    if spec.name in _REGISTRY:
        raise ValueError(f"Dataset {spec.name!r} is already registered.")
    if spec.task not in TASKS:
        raise ValueError(f"Dataset {spec.name!r} has task {spec.task!r}; expected one of {', '.join(TASKS)}.")
    _REGISTRY[spec.name] = spec
    return spec


def get_dataset(name: str) -> DatasetSpec:
    """The spec registered as `name`; an unknown name is the user's mistake, so it raises `UserError`."""
    try:
        return _REGISTRY[name]
    except KeyError:
        hint = " Run `ftlab datasets` to see what each holds."
        raise UserError(did_you_mean(name, _REGISTRY, "dataset") + hint) from None


def list_datasets() -> list[DatasetSpec]:
    """Every registered spec, sorted by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]

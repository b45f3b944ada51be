"""Datasets: the registry of built-in datasets, user tables, and deterministic splits.

Importing this package registers every built-in dataset (each module registers itself on import).
"""

from ftlab.data.files import load_table
from ftlab.data.registry import DatasetSpec, get_dataset, list_datasets, register_dataset
from ftlab.data.splits import SPLITS, k_shot, split_frame, subsample

# Imported for their registration side effect; after the registry so they can use it.
from ftlab.data import adult_text, chats, rotten_tomatoes, wnut16  # noqa: E402,F401  isort: skip

__all__ = [
    "SPLITS",
    "DatasetSpec",
    "get_dataset",
    "k_shot",
    "list_datasets",
    "load_table",
    "register_dataset",
    "split_frame",
    "subsample",
]

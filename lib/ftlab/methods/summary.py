"""The method catalogue as a table: what each method trains, measured on a real model (`ftlab methods`)."""

from __future__ import annotations

import copy
from typing import Any

from ftlab.errors import UserError
from ftlab.methods.common import count_parameters
from ftlab.methods.registry import list_methods


def method_table(task: str = "classification", model: str = "minilm") -> list[dict[str, Any]]:
    """Each method with its tasks and the fraction of parameters it trains on `model` (default options)."""
    from ftlab.tasks import get_task

    base = get_task(task).load_model(model, ["negative", "positive"])
    rows = []
    for spec in list_methods():
        counts, note = None, None
        if task in spec.tasks:
            try:
                config = spec.make_config({})
            except UserError as exc:  # an option without a default (distill's teacher run): nothing to measure alone
                note = f"not measured here: {exc}"
            else:
                counts = count_parameters(spec.apply(copy.deepcopy(base), config))
        rows.append({
            "name": spec.name,
            "tasks": sorted(spec.tasks),
            "trainable_fraction": counts["trainable"] / counts["total"] if counts else None,
            "trainable_params": counts["trainable"] if counts else None,
            "default_learning_rate": spec.default_learning_rate,
            "description": spec.description,
            **({"note": note} if note else {}),
        })
    return rows

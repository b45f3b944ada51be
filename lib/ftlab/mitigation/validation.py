"""Disparity on the validation split at every evaluation, and the score a mitigation picks its checkpoint by.

With --sensitive-col on a classification run, each evaluation also reports `dp_difference` and `eo_difference`:
fairlearn's demographic-parity and equalised-odds differences of the hard predictions between the validation
rows' groups (the positive label as in `TrainingGroups`), logged as `eval_dp_difference` / `eval_eo_difference`
beside the loss, so a run's fairness can be watched while it trains.

A mitigation whose spec has a `selection` (dp-penalty: the Lagrangian it trains on, (1 - accuracy) + λ · DP
difference, measured on the validation rows) also reports that score, and training ends on the evaluated
checkpoint with the lowest one instead of the last step. Why: the validation selection rates swing between
evaluations late in training (bench/fairness_mitigation.py measured men's rate going 0.25 -> 0.10 -> 0.17 over
100 steps), so the last step lands anywhere on that swing; choosing the iterate on held-out rows is how Cotter et
al. (2019, "Training well-generalizing classifiers for fairness metrics and other data-dependent constraints",
ICML) make a constrained model's fairness hold beyond its training rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from ftlab.mitigation.common import GROUP_COL, TrainingGroups
from ftlab.mitigation.registry import get_mitigation
from ftlab.plugins import Plugins

if TYPE_CHECKING:
    from ftlab.config import TrainConfig

Metrics = dict[str, float]


@dataclass(frozen=True)
class CheckpointSelection:
    """Which evaluated checkpoint a run ends on (transformers' `metric_for_best_model`)."""

    metric: str
    """The evaluation metric compared, without the `eval_` prefix."""
    greater_is_better: bool


def group_disparities(gold: np.ndarray, predicted: np.ndarray, groups: np.ndarray, positive: int) -> Metrics:
    """DP and EO differences of hard label ids between groups (codes < 0, groups training never saw, left out)."""
    known = groups >= 0
    gold, predicted, groups = gold[known] == positive, predicted[known] == positive, groups[known]
    if len(np.unique(groups)) < 2:  # a validation sample holding one group has no gap to measure
        return {"dp_difference": float("nan"), "eo_difference": float("nan")}
    return {"dp_difference": float(demographic_parity_difference(gold, predicted, sensitive_features=groups)),
            "eo_difference": float(equalized_odds_difference(gold, predicted, sensitive_features=groups))}


def checkpoint_selection(config: TrainConfig, main_metric: str, greater_is_better: bool) -> CheckpointSelection | None:
    """The mitigation's selection score, else the main metric under early stopping, else None (the last step)."""
    selection = get_mitigation(config.mitigation).selection
    if selection is not None:
        return CheckpointSelection(selection.metric, greater_is_better=False)
    if config.early_stopping_patience:
        return CheckpointSelection(main_metric, greater_is_better)
    return None


def validation_plugins(config: TrainConfig, train_frame: pd.DataFrame, labels: list[str]) -> Plugins:
    """An evaluation-metric plug-in adding the validation rows' disparities (and the mitigation's selection
    score); nothing without --sensitive-col or outside classification."""
    if config.sensitive_col is None or config.task != "classification":
        return Plugins()
    positive = TrainingGroups.of(config, train_frame, labels).positive
    spec = get_mitigation(config.mitigation)

    def disparities(eval_prediction: Any, extras: dict[str, np.ndarray], metrics: Metrics) -> Metrics:
        logits = eval_prediction.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits
        predicted, gold = np.asarray(logits).argmax(-1), np.asarray(eval_prediction.label_ids)
        found = group_disparities(gold, predicted, extras[GROUP_COL], positive)
        if spec.selection is not None:
            found[spec.selection.metric] = spec.selection.score({**metrics, **found}, config)
        return found

    # The groups ride in the batches (as for the penalties), so they reach the metric in the predictions' order.
    return Plugins(extra_columns=(GROUP_COL,), eval_metrics=[disparities])

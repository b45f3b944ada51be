"""Comparing runs: their curves on one axis, how their configs differ, and what each method cost for what it gained.

Everything is read from what the runs already left behind (the tracking store and the run folders); nothing is
recomputed. The workbench's Compare page draws these tables; a notebook can use them as they are.

>>> from ftlab import compare
>>> compare.overlay_curves(["full-run", "lora-run"], metric="eval_loss", x="wall")  # doctest: +SKIP
>>> compare.config_diff(["full-run", "lora-run"])  # doctest: +SKIP
>>> compare.cost_quality(["full-run", "lora-run"])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd

from ftlab import runs, tracking
from ftlab.errors import UserError
from ftlab.records import summary

XAxis = Literal["step", "wall"]
X_AXES: tuple[str, ...] = ("step", "wall")

_CURVES_FIRST = ("loss", "eval_loss", "eval_accuracy", "learning_rate", "grad_norm")
"""Offered first in a metric picker; the rest follow in name order."""
_FIRST_LOGGED = "trainable_params"
"""Logged once, as soon as the model is built and before the first step: where a run's wall clock starts."""
_LOGGED_ONCE = {"trainable_params", "total_params", "wall_seconds", "peak_rss_mb", "peak_cuda_mb",
                "train_step_samples_per_second", "final_train_loss", "train_runtime", "train_samples_per_second",
                "train_steps_per_second", "train_loss", "total_flos", "resumed_from_step", "train_tokens",
                "compute_params", "compute_backward_params", "compute_trained_params"}
"""Metrics a run logs once (at its end or start): a single point, not a curve. `test_*` are too."""


def _unique(run_ids: Sequence[str]) -> list[str]:
    if isinstance(run_ids, str):  # a lone id would otherwise be read as a list of letters
        run_ids = [run_ids]
    return list(dict.fromkeys(run_ids))


def _mlflow_run_id(run_id: str) -> str:
    state = runs.read_state(run_id)
    if not state.mlflow_run_id:
        raise UserError(f"Run '{run_id}' has no tracking record yet; it is {state.status}. Pick a run that "
                        "has started training.")
    return state.mlflow_run_id


def curve_metrics(run_ids: Sequence[str]) -> list[str]:
    """Metrics logged along training by any of the runs (loss, eval_*, learning_rate, ...), the usual ones first."""
    keys: set[str] = set()
    for run_id in _unique(run_ids):
        keys |= set(tracking.client().get_run(_mlflow_run_id(run_id)).data.metrics)
    curves = {k for k in keys if k not in _LOGGED_ONCE and not k.startswith("test_")}
    return [k for k in _CURVES_FIRST if k in curves] + sorted(curves - set(_CURVES_FIRST))


def overlay_curves(run_ids: Sequence[str], metric: str = "loss", x: XAxis = "step") -> pd.DataFrame:
    """One metric of several runs on a shared x axis: columns run_id, x, value (runs in the order given).

    `x="step"` is the optimizer step; `x="wall"` is seconds since the run's model was built (its first logged
    point), from the tracking store's timestamps, so that runs compare by how long they took to get somewhere. A
    resumed run shows the time it spent stopped as a gap. Smooth the values for display with `ftlab.curves.smooth`.
    """
    if x not in X_AXES:
        raise UserError(f"x must be 'step' or 'wall', got {x!r}; use x='step' to compare by optimizer step.")
    rows: list[tuple[str, float, float]] = []
    for run_id in _unique(run_ids):
        histories = tracking.metric_histories(_mlflow_run_id(run_id), [metric, _FIRST_LOGGED])
        history = histories[metric]
        if not history:
            continue
        start = 0
        if x == "wall":  # counting from the metric's own first point would put every first evaluation at 0 s
            start = min(stamp for _, _, stamp in (*history, *histories[_FIRST_LOGGED]))
        points = [(float(step) if x == "step" else (stamp - start) / 1000, value) for step, value, stamp in history]
        rows += [(run_id, px, value) for px, value in sorted(points)]
    return pd.DataFrame(rows, columns=["run_id", "x", "value"])


def _config_values(run_id: str) -> dict[str, Any]:
    used = tracking.client().get_run(_mlflow_run_id(run_id)).data.params.get("learning_rate_used")
    config = runs.read_config(run_id).to_dict()
    config.pop("name")  # the run id already heads the column
    options = config.pop("method_options")
    values: dict[str, Any] = {}
    for key, value in config.items():
        values[key] = value
        if key == "learning_rate":  # unset means "the method's default": the rate used tells two runs apart
            values["learning_rate_used"] = float(used) if used not in (None, "None") else None
    return {**values, **{f"method_options.{k}": v for k, v in sorted(options.items())}}


_MISSING = object()


def config_diff(run_ids: Sequence[str], *, all_fields: bool = False) -> pd.DataFrame:
    """Config fields (method_options.* included) as rows, runs as columns; by default only the fields that differ.

    A method option that one run has and another lacks counts as a difference (shown as None where it is absent).
    """
    ids = _unique(run_ids)
    configs = {run_id: _config_values(run_id) for run_id in ids}
    fields = list(dict.fromkeys(key for values in configs.values() for key in values))
    rows = {}
    for key in fields:
        values = [configs[run_id].get(key, _MISSING) for run_id in ids]
        if all_fields or len({repr(v) for v in values}) > 1:
            rows[key] = [None if v is _MISSING else v for v in values]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=ids, dtype=object)
    frame.index.name = "field"
    return frame


def cost_quality(run_ids: Sequence[str]) -> pd.DataFrame:
    """What each run cost and what it reached, one row per run, from the tracking store.

    Columns: run_id, status, method, model, trainable_params, trainable_pct, wall_seconds, train_samples_per_s
    (optimizer-step time only), peak_rss_mb (peak_cuda_mb where a GPU trained), model_mb (the saved model or
    adapter on disk), main_metric (e.g. "test
    accuracy"), main_value, then each final test metric (per-class support counts left out).
    """
    rows = []
    for run_id in _unique(run_ids):
        record = summary(run_id)
        counts, main, metrics = record["param_counts"], record["main_metric"], record["metrics"]
        row = {
            "run_id": record["run_id"], "status": record["status"], "method": record["method"],
            "model": record["model"],
            "trainable_params": counts["trainable"] or None,  # 0 means "not logged yet", not "trains nothing"
            "trainable_pct": 100 * counts["trainable"] / counts["total"] if counts["total"] else None,
            "wall_seconds": record["wall_seconds"], "train_samples_per_s": record["train_samples_per_second"],
            "peak_rss_mb": metrics.get("peak_rss_mb"), "model_mb": runs.model_size_mb(run_id),
        }
        if "peak_cuda_mb" in metrics:
            row["peak_cuda_mb"] = metrics["peak_cuda_mb"]
        row["main_metric"] = f"{main['split']} {main['name']}" if main["split"] else main["name"]
        row["main_value"] = main["value"]
        row.update({k: v for k, v in metrics.items() if k.startswith("test_") and not k.startswith("test_support_")})
        rows.append(row)
    return pd.DataFrame(rows)

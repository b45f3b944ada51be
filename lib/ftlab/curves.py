"""Training curves and live progress of a run, read from the tracking store (so they survive any restart).

The workbench's live panel calls `live_snapshot` once per tick; it reads only the few metric histories it draws,
about a millisecond each from the SQLite store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ftlab import runs, tracking

CURVE_KEYS = ("loss", "eval_loss", "learning_rate")
"""Always drawn; the task's eval metrics (eval_<main metric>, eval_macro_f1…) are added per run."""
_LOG_TAIL_BYTES = 16_384


@dataclass
class Progress:
    step: int
    total_steps: int | None
    """From the trainer once training starts (epochs x steps per epoch, or max_steps); None before."""
    eta_seconds: float | None
    steps_per_second: float | None
    samples_per_second: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


@dataclass
class LiveSnapshot:
    run_id: str
    status: str
    curves: pd.DataFrame
    """Long format: metric, step, value, seconds (since the run's first logged point)."""
    progress: Progress
    log_tail: str
    error: str | None = None
    eval_metrics: list[str] = field(default_factory=list)


def metric_curves(run_id: str, keys: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """Metric histories of a run, long format (metric, step, value, seconds); all per-step metrics by default."""
    state = runs.read_state(run_id)
    if keys is None:
        keys = list(tracking.client().get_run(state.mlflow_run_id).data.metrics)
    histories = tracking.metric_histories(state.mlflow_run_id, list(keys))
    rows = [(key, step, value, stamp) for key, points in histories.items() for step, value, stamp in points]
    frame = pd.DataFrame(rows, columns=["metric", "step", "value", "timestamp"])
    first = frame["timestamp"].min() if len(frame) else 0
    frame["seconds"] = (frame["timestamp"] - first) / 1000.0
    return frame.drop(columns="timestamp")


def eval_metric_keys(main_metric: str) -> list[str]:
    """The eval curves worth drawing: the main metric first, then macro-F1 where the task reports it, then the
    validation rows' disparities of a run with --sensitive-col (drawn only where the run logged them)."""
    keys = [f"eval_{main_metric}"]
    if main_metric != "macro_f1":
        keys.append("eval_macro_f1")
    return [*keys, "eval_dp_difference", "eval_eo_difference"]


def live_snapshot(run_id: str, log_lines: int = 30) -> LiveSnapshot:
    """Everything the live run panel shows, in one read: status, curves, progress and the log's tail."""
    state = runs.refresh(runs.read_state(run_id))
    run = tracking.client().get_run(state.mlflow_run_id)
    tags = run.data.tags
    main = tags.get(tracking.TAG + "main_metric", "accuracy")
    evals = [key for key in eval_metric_keys(main) if key in run.data.metrics]
    curves = metric_curves(run_id, [key for key in (*CURVE_KEYS, *evals) if key in run.data.metrics])
    return LiveSnapshot(run_id=run_id, status=state.status, curves=curves, error=state.error, eval_metrics=evals,
                        progress=_progress(curves, tags), log_tail=tail(runs.run_dir(run_id) / "train.log", log_lines))


def _progress(curves: pd.DataFrame, tags: dict[str, str]) -> Progress:
    total = int(tags[tracking.TAG + "total_steps"]) if tracking.TAG + "total_steps" in tags else None
    batch = int(tags.get(tracking.TAG + "samples_per_step", 0)) or None
    loss = curves[curves["metric"] == "loss"].sort_values("step")
    step = int(curves["step"].max()) if len(curves) else 0
    rate = _recent_steps_per_second(loss)
    eta = (total - step) / rate if rate and total and total > step else (0.0 if total and step >= total else None)
    return Progress(step=step, total_steps=total, eta_seconds=eta, steps_per_second=rate,
                    samples_per_second=rate * batch if rate and batch else None)


def _recent_steps_per_second(loss: pd.DataFrame, window: int = 5) -> float | None:
    """Speed over the last few logged points, so a resume gap or the slow first step does not skew the ETA."""
    recent = loss.tail(window + 1)
    if len(recent) < 2:
        return None
    steps = recent["step"].iloc[-1] - recent["step"].iloc[0]
    seconds = recent["seconds"].iloc[-1] - recent["seconds"].iloc[0]
    return steps / seconds if seconds > 0 and steps > 0 else None


def smooth(values: np.ndarray | list[float], weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average (weight 0 = raw, 0.99 = very smooth)."""
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out, last, debias = np.empty(len(values)), 0.0, 1.0
    for i, value in enumerate(values):
        if not math.isfinite(value):
            out[i] = value
            continue
        last = last * weight + (1 - weight) * value
        debias *= weight
        out[i] = last / (1 - debias)
    return out


def tail(path: Path, lines: int) -> str:
    """The last lines of a log file, reading only its end."""
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - _LOG_TAIL_BYTES))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])

"""What `ftlab runs` shows: one summary per run, read from the tracking store and the run folder."""

from __future__ import annotations

from typing import Any

from ftlab import runs, tracking

_PER_STEP = {"loss", "learning_rate", "grad_norm", "epoch"}
"""Training-curve values: their latest point is noise in a summary."""


def _record(state: runs.RunState | None, mlflow_run: Any) -> dict[str, Any]:
    tags = {k[len(tracking.TAG):]: v for k, v in mlflow_run.data.tags.items() if k.startswith(tracking.TAG)}
    metrics = dict(mlflow_run.data.metrics)
    main = tags.get("main_metric", "accuracy")
    split = "test" if f"test_{main}" in metrics else "validation" if f"eval_{main}" in metrics else None
    status = state.status if state else tracking.MLFLOW_TO_STATUS.get(mlflow_run.info.status, "failed")
    record = {
        "run_id": tags.get("run_id", mlflow_run.info.run_name),
        "status": status,
        "task": tags.get("task"),
        "method": tags.get("method"),
        "model": tags.get("model"),
        "dataset": tags.get("dataset"),
        "parent": tags.get("parent"),  # the run a compressed run (`ftlab compress`) was made from
        "main_metric": {"name": main, "split": split,
                        "value": metrics.get(f"test_{main}", metrics.get(f"eval_{main}"))},
        "metrics": {k: v for k, v in sorted(metrics.items()) if k not in _PER_STEP},
        "param_counts": {"trainable": int(metrics.get("trainable_params", 0)),
                         "total": int(metrics.get("total_params", 0))},
        # Samples/s of optimizer-step time (evaluations and checkpoints excluded); the Trainer's own figure is
        # kept in `metrics` as train_samples_per_second.
        "train_samples_per_second": metrics.get("train_step_samples_per_second"),
        "wall_seconds": state.wall_seconds if state else metrics.get("wall_seconds"),
        # Observed, not requested: the activations' dtype on the first step (ftlab.precision); processes of a DDP run.
        "precision": tags.get("precision"),
        "world_size": int(tags["world_size"]) if "world_size" in tags else None,
        "mlflow_run_id": mlflow_run.info.run_id,
        "started": mlflow_run.info.start_time,
    }
    if state and state.error:
        record["error"] = state.error
    return record


def summary(run_id: str) -> dict[str, Any]:
    state = runs.refresh(runs.read_state(run_id))
    return _record(state, tracking.client().get_run(state.mlflow_run_id))


def list_runs() -> list[dict[str, Any]]:
    """Every run in the tracking store, newest first, with dead processes reported as failed."""
    records = []
    for mlflow_run in tracking.search_runs():
        run_id = mlflow_run.data.tags.get(tracking.TAG + "run_id")
        state = None
        if run_id and runs.state_path(run_id).is_file():
            state = runs.refresh(runs.read_state(run_id))
            if state.status != tracking.MLFLOW_TO_STATUS.get(mlflow_run.info.status):
                mlflow_run = tracking.client().get_run(mlflow_run.info.run_id)
        records.append(_record(state, mlflow_run))
    return records

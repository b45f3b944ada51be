"""The tracking store: MLflow, SQLite in the workbench home by default (`MLFLOW_TRACKING_URI` overrides it).

Artifacts go to the experiment's `artifact_location` inside the home, never to `./mlruns`.
Our status vocabulary maps one-to-one onto MLflow's run statuses.
"""

from __future__ import annotations

import functools
import os
import re
import time
from typing import Any

from ftlab.home import home

EXPERIMENT = "ftlab"
STATUS_TO_MLFLOW = {
    "queued": "SCHEDULED",
    "running": "RUNNING",
    "finished": "FINISHED",
    "failed": "FAILED",
    "cancelled": "KILLED",
}
MLFLOW_TO_STATUS = {v: k for k, v in STATUS_TO_MLFLOW.items()}
TAG = "ftlab."


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home() / 'mlflow.db'}"


def store_exists() -> bool:
    """False only for the default SQLite store before its first run: a lookup need not create it."""
    return bool(os.environ.get("MLFLOW_TRACKING_URI")) or (home() / "mlflow.db").is_file()


@functools.lru_cache(maxsize=4)
def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def client():
    return _client(tracking_uri())


@functools.lru_cache(maxsize=4)
def _experiment_id(uri: str, artifact_root: str) -> str:
    mlflow_client = _client(uri)
    experiment = mlflow_client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return mlflow_client.create_experiment(EXPERIMENT, artifact_location=artifact_root)
    except Exception:  # another process created it between our check and create
        return mlflow_client.get_experiment_by_name(EXPERIMENT).experiment_id


def experiment_id() -> str:
    artifacts = home() / "mlartifacts"
    artifacts.mkdir(exist_ok=True)
    return _experiment_id(tracking_uri(), artifacts.as_uri())


def start_run(run_id: str, tags: dict[str, str], params: dict[str, Any]) -> str:
    from mlflow.entities import Param

    run = client().create_run(experiment_id(), run_name=run_id, tags={TAG + "run_id": run_id,
                                                                      **{TAG + k: str(v) for k, v in tags.items()}})
    # MLflow caps a param at 6000 chars; ours are short, the full config also goes up as an artifact.
    client().log_batch(run.info.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
    return run.info.run_id


_KEY_WORDS = [("<=", "le"), (">=", "ge"), ("<", "lt"), (">", "gt"), ("=", "eq")]
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_key(name: str) -> str:
    """`name` as MLflow accepts it: per-class metrics carry label names such as `<=50K`, whose signs MLflow refuses,
    so `eval_precision_<=50K` is logged as `eval_precision_le50K`."""
    for sign, word in _KEY_WORDS:
        name = name.replace(sign, word)
    return _KEY_UNSAFE.sub("_", name)


def log_metrics(mlflow_run_id: str, metrics: dict[str, float], step: int) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    batch = [Metric(metric_key(k), float(v), now, step) for k, v in metrics.items() if isinstance(v, (int, float))]
    if batch:
        client().log_batch(mlflow_run_id, metrics=batch)


def set_tags(mlflow_run_id: str, tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        client().set_tag(mlflow_run_id, TAG + key, str(value))


def set_status(mlflow_run_id: str, status: str) -> None:
    mlflow_status = STATUS_TO_MLFLOW[status]
    if status in ("finished", "failed", "cancelled"):
        client().set_terminated(mlflow_run_id, status=mlflow_status)
    else:
        client().update_run(mlflow_run_id, status=mlflow_status)


def log_artifact(mlflow_run_id: str, path: str) -> None:
    client().log_artifact(mlflow_run_id, path)


def metric_history(mlflow_run_id: str, key: str) -> list[tuple[int, float, int]]:
    """(step, value, timestamp ms) of one metric, in step order."""
    history = client().get_metric_history(mlflow_run_id, key)
    return sorted((m.step, m.value, m.timestamp) for m in history)


def metric_histories(mlflow_run_id: str, keys: list[str]) -> dict[str, list[tuple[int, float, int]]]:
    """`metric_history` for several keys at once.

    MLflow's client builds an ORM object per point (about 10 us each: 30 ms for a 3,000-step curve), too slow for
    a live panel that redraws every two seconds; on our SQLite store one plain query reads the same rows in a
    few ms. Other stores go through the client.
    """
    uri = tracking_uri()
    if not uri.startswith("sqlite:///") or not keys:
        return {key: metric_history(mlflow_run_id, key) for key in keys}
    import sqlite3

    database = uri[len("sqlite:///"):]
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as connection:
        rows = connection.execute(
            f"SELECT key, step, value, timestamp FROM metrics WHERE run_uuid = ? AND key IN "
            f"({', '.join('?' * len(keys))}) ORDER BY key, step, timestamp", [mlflow_run_id, *keys]).fetchall()
    histories: dict[str, list[tuple[int, float, int]]] = {key: [] for key in keys}
    for key, step, value, stamp in rows:
        histories[key].append((int(step), float(value), int(stamp)))
    return histories


def last_logged_steps(mlflow_run_id: str) -> dict[str, int]:
    """Highest step already logged per metric: a resumed run logs only later steps, so no step shows twice."""
    run = client().get_run(mlflow_run_id)
    return {key: max((m.step for m in client().get_metric_history(mlflow_run_id, key)), default=-1)
            for key in run.data.metrics}


def search_runs() -> list[Any]:
    from mlflow.entities import ViewType

    return client().search_runs([experiment_id()], run_view_type=ViewType.ACTIVE_ONLY,
                                order_by=["attributes.start_time DESC"], max_results=10000)

"""Run folders and run state on disk.

Each run lives in `<home>/runs/<run_id>/`: config.yaml, state.json, splits/, checkpoints/, model/, predictions/.
`state.json` records the owning process (pid + start time) and a heartbeat; whenever runs are read, a run whose
process is gone is marked failed, so no run shows "running" forever.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from ftlab import tracking
from ftlab.errors import UserError
from ftlab.home import runs_dir, safe_child

if TYPE_CHECKING:
    from ftlab.config import TrainConfig

CANCEL_FILE = "CANCEL"
"""Touched in a run folder to ask its training process to stop at the end of the step, with a checkpoint."""


@dataclass
class RunState:
    run_id: str
    mlflow_run_id: str = ""
    status: str = "queued"
    pid: int | None = None
    pid_started: float | None = None
    """The process's start time, so a recycled pid is not mistaken for our process."""
    heartbeat: float | None = None
    created: float = field(default_factory=time.time)
    labels: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    """Training wall time summed over every attempt (resumes included)."""
    error: str | None = None


def run_dir(run_id: str) -> Path:
    return safe_child(runs_dir(), run_id)


def model_stamp(run_id: str) -> float:
    """Newest time stamp among the run's model files: caches keyed on it miss once the model is retrained or
    replaced (explanations, embeddings)."""
    folder = run_dir(run_id) / "model"
    return max([folder.stat().st_mtime] + [p.stat().st_mtime for p in folder.iterdir()])


def model_size_mb(run_id: str) -> float | None:
    """Disk size of the run's saved model folder (peft's adapter, or only the trained tensors, for methods that train
    part of the model: see `ftlab.model_files`), None before it exists."""
    folder = run_dir(run_id) / "model"
    if not folder.is_dir():
        return None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def new_run_id(method: str, dataset: str) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    # Only the characters a run name may hold ('+' of a multi-task dataset would read as a space in a URL).
    base = re.sub(r"[^A-Za-z0-9._-]", "_", f"{method}-{dataset}-{stamp}")[:100]
    candidate, n = base, 1
    while (runs_dir() / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def create_run_dir(run_id: str) -> Path:
    path = run_dir(run_id)
    if path.exists():
        raise UserError(f"A run named '{run_id}' already exists. Choose another --name, or continue it with "
                        f"`ftlab train --resume {run_id}`.")
    path.mkdir(parents=True)
    return path


def state_path(run_id: str) -> Path:
    return run_dir(run_id) / "state.json"


_WRITE_LOCK = threading.Lock()


def write_state(state: RunState) -> None:
    path = state_path(state.run_id)
    with _WRITE_LOCK:  # the heartbeat thread writes too
        tmp = path.with_name(f".state.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        os.replace(tmp, path)  # atomic: a reader never sees half a file


def known_run_ids() -> list[str]:
    return sorted(p.name for p in runs_dir().iterdir() if (p / "state.json").is_file())


def read_state(run_id: str) -> RunState:
    path = state_path(run_id)
    if not path.is_file():
        known = known_run_ids()
        raise UserError(f"Unknown run '{run_id}'. Known runs: {', '.join(known[-10:]) or '(none yet)'}"
                        f"{' (newest 10)' if len(known) > 10 else ''}. List them with `ftlab runs`.")
    values: dict[str, Any] = json.loads(path.read_text())
    return RunState(**{k: v for k, v in values.items() if k in RunState.__dataclass_fields__})


def claim(state: RunState) -> None:
    """Record this process as the run's owner."""
    me = psutil.Process()
    state.pid, state.pid_started, state.heartbeat = me.pid, me.create_time(), time.time()


def owner_alive(state: RunState) -> bool:
    if state.pid is None:
        return False
    try:
        process = psutil.Process(state.pid)
        return abs(process.create_time() - (state.pid_started or 0)) < 1.0 and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def set_status(state: RunState, status: str, error: str | None = None) -> None:
    state.status, state.error = status, error
    write_state(state)
    if state.mlflow_run_id:
        tracking.set_status(state.mlflow_run_id, status)


def refresh(state: RunState) -> RunState:
    """Mark a running run whose process died as failed (in both stores)."""
    if state.status == "running" and not owner_alive(state):
        set_status(state, "failed", error="the training process died (killed or crashed); "
                                          f"continue it with `ftlab train --resume {state.run_id}`")
    return state


def read_config(run_id: str) -> TrainConfig:
    """The run's saved TrainConfig (light: no torch import, so the app's pages can call it)."""
    from ftlab.config import TrainConfig

    path = run_dir(run_id) / "config.yaml"
    if not path.is_file():
        read_state(run_id)  # an unknown run is named as such first
        raise UserError(f"Run '{run_id}' has no config.yaml ({path} is missing): its folder is incomplete. "
                        "Start a new run with `ftlab train`.")
    return TrainConfig.from_yaml(path.read_text())


def require_classification(run_id: str, what: str) -> None:
    """Refuse a run of another task for a classification-only feature (`what`, e.g. "ftlab slices")."""
    task = read_config(run_id).task
    if task != "classification":
        page = " and the app's Entities page shows its entities, confusions and worst sentences" if task == "ner" else ""
        raise UserError(f"Run '{run_id}' is a {task} run; {what} covers classification runs. For this run, "
                        f"`ftlab evaluate {run_id}` prints its report{page}.")


def last_checkpoint(run_id: str) -> Path | None:
    folder = run_dir(run_id) / "checkpoints"
    checkpoints = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()] if folder.is_dir() else []
    complete = [p for p in checkpoints if (p / "trainer_state.json").is_file()]
    return max(complete, key=lambda p: int(p.name.split("-")[-1]), default=None)


def delete_run(run_id: str) -> None:
    """Delete a run for good: its tracking record and its folder (config, splits, checkpoints, model, predictions).

    A queued or running run is refused: its process would go on writing into a folder that is gone. A tracking
    record whose folder was already removed by hand is still deleted, so that it can leave the runs list.
    """
    import shutil

    folder = run_dir(run_id)
    if state_path(run_id).is_file():
        state = refresh(read_state(run_id))
        if state.status in ("queued", "running"):
            raise UserError(f"Run '{run_id}' is {state.status}; cancel it first with `ftlab cancel {run_id}` "
                            "(or wait for it to end), then delete it.")
        mlflow_ids = [state.mlflow_run_id] if state.mlflow_run_id else []
    else:
        # run_dir() checked the name, so it is safe inside the filter string.
        found = tracking.client().search_runs([tracking.experiment_id()],
                                              filter_string=f"tags.`{tracking.TAG}run_id` = '{run_id}'"
                                              ) if tracking.store_exists() else []
        if not found and not folder.exists():
            read_state(run_id)  # raises the usual "Unknown run ... Known runs: ..." error
        mlflow_ids = [run.info.run_id for run in found]
    # The tracking record goes first: it is what lists the run, so a failure below leaves no half-listed run.
    for mlflow_run_id in mlflow_ids:
        tracking.client().delete_run(mlflow_run_id)
    if folder.exists():
        shutil.rmtree(folder)

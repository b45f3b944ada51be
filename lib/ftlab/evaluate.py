"""Scoring a trained run: per-example predictions tables (cached in the run folder) and raw-text predictions.

The explanation and fairness features read the predictions table; the CLI's `evaluate` and `predict` call here.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ftlab.config import TrainConfig
from ftlab.data import SPLITS
from ftlab.errors import UserError
from ftlab.model_files import load_model_from
from ftlab.runs import read_config, read_state, refresh, run_dir
from ftlab.tasks import Task, get_task


def read_split(run_id: str, split: str) -> pd.DataFrame:
    if split not in SPLITS:
        raise UserError(f"Unknown split '{split}'. Use one of: {', '.join(SPLITS)}.")
    path = run_dir(run_id) / "splits" / f"{split}.parquet"
    if not path.is_file():
        raise UserError(f"Run '{run_id}' has no stored {split} split ({path} is missing); its folder is incomplete. "
                        "Start a new run with `ftlab train`.")
    return pd.read_parquet(path)


@functools.lru_cache(maxsize=4)
def _load_trained(run_id: str, stamp: float) -> tuple[Any, Any, TrainConfig, list[str], Task]:
    config = read_config(run_id)
    state = read_state(run_id)
    task = get_task(config.task)
    model_dir = run_dir(run_id) / "model"
    model = load_model_from(model_dir, config, state.labels, task)
    model.eval()
    from transformers import AutoTokenizer

    # The run saved its own tokenizer beside the model (an adapter folder has no config.json of its own).
    return model, AutoTokenizer.from_pretrained(model_dir), config, state.labels, task


def load_trained(run_id: str) -> tuple[Any, Any, TrainConfig, list[str], Task]:
    """(model, tokenizer, config, labels, task) of a finished run, cached per process."""
    state = refresh(read_state(run_id))
    model_dir = run_dir(run_id) / "model"
    if not model_dir.is_dir():
        hint = (f"it is {state.status}; continue it with `ftlab train --resume {run_id}`" if state.status != "running"
                else "it is still training; wait for it to finish")
        raise UserError(f"Run '{run_id}' has no trained model yet ({hint}).")
    return _load_trained(run_id, model_dir.stat().st_mtime)


def score_frame(task: Task, model: Any, tokenizer: Any, frame: pd.DataFrame, config: TrainConfig,
                labels: list[str]) -> tuple[pd.DataFrame, dict[str, float]]:
    """Predictions table and metrics of `model` on a labelled frame (the task decides how it scores)."""
    return task.score(model, tokenizer, frame, config, labels)


def predictions_path(run_id: str, split: str) -> Path:
    return run_dir(run_id) / "predictions" / f"{split}.parquet"


def save_predictions(run_id: str, split: str, table: pd.DataFrame, metrics: dict[str, float]) -> Path:
    path = predictions_path(run_id, split)
    path.parent.mkdir(exist_ok=True)
    table.to_parquet(path)
    path.with_suffix(".metrics.json").write_text(json.dumps(metrics, indent=2))
    return path


def predictions(run_id: str, split: str = "test", *, refresh_cache: bool = False) -> tuple[pd.DataFrame, dict[str, float]]:
    """The run's per-example predictions on a split and its metrics, computed once and cached in the run folder."""
    read_state(run_id)
    path = predictions_path(run_id, split)
    frame = read_split(run_id, split)
    if path.is_file() and path.with_suffix(".metrics.json").is_file() and not refresh_cache:
        return pd.read_parquet(path), json.loads(path.with_suffix(".metrics.json").read_text())
    model, tokenizer, config, labels, task = load_trained(run_id)
    table, metrics = score_frame(task, model, tokenizer, frame, config, labels)
    save_predictions(run_id, split, table, metrics)
    return table, metrics


def predict(run_id: str, texts: list[str]) -> list[dict]:
    """Predictions for raw texts from a trained run."""
    blank = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if not texts or blank:
        raise UserError("Nothing to predict: give a non-empty text, e.g. --text 'A warm, funny film.'")
    model, tokenizer, config, labels, task = load_trained(run_id)
    return task.predict(model, tokenizer, texts, labels, config)

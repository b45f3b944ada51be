"""The runs list as a table: cached loading from the tracking store, flattening, filter and sort widgets.

The cache key holds the store's modification times, so a run written by any process (CLI, job worker) shows at
the next rerun; the short TTL bounds how late a dead process's run turns from "running" to "failed".
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

import ftlab
from ftlab.home import home, runs_dir
from ftlab.tracking import tracking_uri

FILTERS = ("status", "method", "model", "dataset")
SORTABLE = {"started": "Started", "run_id": "Run", "status": "Status", "method": "Method", "model": "Model",
            "dataset": "Dataset", "value": "Main metric", "trainable_params": "Trainable params",
            "wall_seconds": "Wall time", "samples_per_s": "Samples/s"}
COLUMNS = {
    "link": st.column_config.LinkColumn("Run", display_text=r"run=(.*)$", help="Open the run's detail page"),
    "status": st.column_config.TextColumn("Status"),
    "method": "Method", "model": "Model", "dataset": "Dataset",
    "metric": st.column_config.TextColumn("Metric", help="The task's main metric, on test (else validation)"),
    "value": st.column_config.NumberColumn("Value", format="%.4f"),
    "trainable_params": st.column_config.NumberColumn("Trainable params", format="localized"),
    "wall_seconds": st.column_config.NumberColumn("Wall s", format="%.0f"),
    "samples_per_s": st.column_config.NumberColumn("Samples/s", format="%.1f"),
    "started": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
    "error": st.column_config.TextColumn("Error", width="medium"),
}


def store_stamp() -> tuple[Any, ...]:
    """Which store, and when anything in it last changed: part of every cache key."""
    def mtime(path: Any) -> int:
        return path.stat().st_mtime_ns if path.exists() else 0

    db = home() / "mlflow.db"
    return tracking_uri(), mtime(db), mtime(db.with_name("mlflow.db-wal")), mtime(runs_dir())


@st.cache_data(ttl=5, show_spinner=False)
def _list_runs(stamp: tuple[Any, ...]) -> list[dict[str, Any]]:
    return ftlab.list_runs()


def load_runs() -> list[dict[str, Any]]:
    """`ftlab.list_runs()`, cached for a few seconds per store state."""
    return _list_runs(store_stamp())


def runs_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run, with a link to its detail page (`run?run=<id>`, the Run detail page's URL)."""
    rows = [{
        "run_id": r["run_id"], "link": f"run?run={r['run_id']}", "status": r["status"], "method": r["method"],
        "model": r["model"], "dataset": r["dataset"],
        "metric": " ".join(filter(None, (r["main_metric"]["split"], r["main_metric"]["name"]))),
        "value": r["main_metric"]["value"], "trainable_params": r["param_counts"]["trainable"] or None,
        "wall_seconds": r["wall_seconds"], "samples_per_s": r["train_samples_per_second"],
        "started": pd.to_datetime(r["started"], unit="ms") if r["started"] else pd.NaT,
        "error": r.get("error"),
    } for r in records]
    return pd.DataFrame(rows, columns=["run_id", *COLUMNS])


def filter_runs(frame: pd.DataFrame, chosen: dict[str, list[str]]) -> pd.DataFrame:
    """Rows whose value is among the chosen ones, per column; an empty choice keeps every row."""
    keep = pd.Series(True, index=frame.index)
    for column, values in chosen.items():
        if values:
            keep &= frame[column].isin(values)
    return frame[keep]


def sort_runs(frame: pd.DataFrame, by: str, descending: bool) -> pd.DataFrame:
    """Sorted by one column; runs without a value (e.g. no metric yet) always last."""
    return frame.sort_values(by, ascending=not descending, na_position="last", kind="stable")


def filtered_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """The filter and sort widgets, applied."""
    columns = st.columns(len(FILTERS) + 2)
    chosen = {name: columns[i].multiselect(name.title(), sorted(frame[name].dropna().unique()), key=f"runs_{name}")
              for i, name in enumerate(FILTERS)}
    by = columns[-2].selectbox("Sort by", list(SORTABLE), format_func=SORTABLE.get, key="runs_sort")
    descending = columns[-1].toggle("Descending", value=True, key="runs_descending")
    return sort_runs(filter_runs(frame, chosen), by, descending)

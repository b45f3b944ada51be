"""Where a page's predictions table comes from: the run's test split, or a labelled file the user uploads.

A `Source` names the table (run, file, columns, the cached predictions' stamp); the pages' cached reports are keyed
by it, so a re-render with the same settings is a cache hit. The test split's table is the one
`ftlab.predictions` caches in the run folder; an upload is scored by the run's model once per file and columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

import ftlab
from ftlab import uploads
from ftlab.analysis import scored_table
from ftlab.data.files import SUFFIXES
from ftlab.errors import UserError
from ftlab.evaluate import predictions_path

TEST, UPLOAD = "Its test split", "A labelled file"


@dataclass(frozen=True)
class Source:
    """A predictions table: the run's test split, or an uploaded labelled file scored by the run's model."""

    run_id: str
    """The run whose model made the predictions."""
    name: str
    """What the page calls it: "test split", or the file's name as uploaded."""
    path: str | None = None
    """The saved upload (its name holds a hash of its content, so it is a sound cache key); None for the test split."""
    text_col: str | None = None
    """The upload's column of texts."""
    label_col: str | None = None
    """The upload's column of gold labels."""
    stamp: int = 0
    """The test predictions file's modification time (ns): recomputed predictions miss the cache."""

    @property
    def is_test(self) -> bool:
        """True for the run's test split, whose examples the Explain page can open by example_id."""
        return self.path is None


@st.cache_data(max_entries=8, show_spinner="Loading the predictions…")
def load(source: Source) -> pd.DataFrame:
    """The predictions table of `source` (example_id, text, gold, predicted, prob_*, confidence, correct, metadata)."""
    if source.is_test:
        return ftlab.predictions(source.run_id, "test")[0]
    return scored_table(source.run_id, source.path, text_col=source.text_col, label_col=source.label_col)


def table_of(source: Source) -> pd.DataFrame:
    """`load(source)`, or the problem shown inline (e.g. labels the model does not know) and the page stopped."""
    try:
        return load(source)
    except UserError as exc:
        st.error(str(exc) if source.is_test else _renamed(str(exc), source.path, source.name))
        st.stop()


def split_source(run_id: str) -> Source:
    """The run's test split; when its predictions are not computed yet, says so and offers to compute them."""
    path = predictions_path(run_id, "test")
    if not path.is_file():
        st.error(f"Run '{run_id}' has no test predictions yet: they are computed once (the model scores the test "
                 "split) and kept in the run folder.")
        if st.button("Compute the predictions", type="primary", key="source.compute"):
            try:
                with st.spinner("Scoring the test split…"):
                    ftlab.predictions(run_id, "test")
            except UserError as exc:
                st.error(str(exc))
                st.stop()
            st.rerun()
        st.stop()
    return Source(run_id, "test split", stamp=path.stat().st_mtime_ns)


def choose_source(run_id: str) -> Source:
    """The test split, or an uploaded labelled file with its text and label columns; stops on a bad upload."""
    if st.radio("Data", [TEST, UPLOAD], horizontal=True, key="source.kind") == TEST:
        return split_source(run_id)
    file = st.file_uploader("Labelled table", type=[s.lstrip(".") for s in SUFFIXES], key="source.upload",
                            help="CSV, TSV, JSON lines or Parquet with a text column, a label column with the run's "
                                 "labels, and any metadata columns to slice by.")
    if file is None:
        st.info(f"Upload a labelled table, or choose '{TEST}' above.")
        st.stop()
    try:
        path = str(uploads.save_upload(file.name, file.getvalue()))  # the message names the file as uploaded
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    try:
        columns = _columns(path)
    except UserError as exc:
        st.error(_renamed(str(exc), path, file.name))
        st.stop()
    left, right = st.columns(2)
    saved = path.rsplit("/", 1)[-1]  # pickers keyed by the saved file: another upload starts with fresh ones
    text_col = left.selectbox("Text column", columns, index=_index(columns, "text"), key=f"source.text.{saved}")
    label_col = right.selectbox("Label column", columns, index=_index(columns, "label"), key=f"source.label.{saved}")
    if text_col is None or label_col is None:
        st.info("Choose the text and label columns.")
        st.stop()
    return Source(run_id, file.name, path, text_col, label_col)


@st.cache_data(max_entries=16, show_spinner=False)
def _columns(path: str) -> list[str]:
    return uploads.table_columns(path)[0]


def _index(options: list[str], wanted: str) -> int | None:
    return options.index(wanted) if wanted in options else None


def _renamed(message: str, path: str, name: str) -> str:
    """The message with the saved copy's path replaced by the name the user uploaded."""
    return message.replace(path, name).replace(path.rsplit("/", 1)[-1], name)

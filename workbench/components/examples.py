"""A table of examples from a predictions table, each test example with a link to its explanation."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from ftlab.slices.groups import metadata_columns

SHOWN = ("text", "gold", "predicted", "confidence", "correct")
LIMIT = 500
"""Rows shown at most; the caption says how many there are."""


def explain_link(run_id: str, example_id: object) -> str:
    """The Explain page's URL with this test example picked (relative, like the app's other links)."""
    return "explain?" + urlencode({"run": run_id, "example": str(example_id)})


def examples_table(rows: pd.DataFrame, *, key: str, run_id: str | None = None) -> None:
    """Text, gold, predicted, confidence, correct and metadata; with `run_id` (test examples) an Explain link."""
    if rows.empty:
        st.info("No examples here.")
        return
    shown = rows.head(LIMIT)
    frame = shown[[*SHOWN, *metadata_columns(shown)]].reset_index(drop=True)
    config = {"text": st.column_config.TextColumn("Text", width="large"),
              "confidence": st.column_config.NumberColumn("Confidence", format="%.3f")}
    if run_id is not None:
        frame.insert(0, "explain", [explain_link(run_id, i) for i in shown["example_id"]])
        config["explain"] = st.column_config.LinkColumn("Explain", display_text="Explain",
                                                        help="Open this example on the Explain page")
    st.dataframe(frame, hide_index=True, column_config=config, key=key)
    st.caption(f"{len(rows)} example(s)" + (f"; the first {LIMIT} shown." if len(rows) > LIMIT else "."))

"""Choosing the text to explain: typed, or picked from the run's test predictions (errors, class, confidence)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ftlab.evaluate import predictions

TYPED, PICKED = "Type a text", "Pick a test example"


@st.cache_data(show_spinner="Scoring the test split once (cached in the run folder)…", max_entries=8)
def test_predictions(run_id: str) -> pd.DataFrame:
    table, _ = predictions(run_id, "test")
    return table


def pick_example(run_id: str, linked: str | None = None) -> str:
    """The text to explain. `linked`: an example_id (from a link `explain?run=RUN&example=ID`), picked on arrival."""
    arriving = linked is not None and st.session_state.get("explain.linked") != (run_id, linked)
    if arriving:  # only once, so that the user can pick another example or type a text afterwards
        st.session_state["explain.linked"] = (run_id, linked)
        st.session_state["explain.source"] = PICKED
    source = st.radio("Text to explain", [TYPED, PICKED], horizontal=True, key="explain.source")
    if source == TYPED:
        return st.text_area("Text", value="A warm, funny and moving film.", key="explain.text")
    table = test_predictions(run_id)
    row = _linked_row(table, linked)
    left, middle, right = st.columns(3)
    errors_only = left.checkbox("Errors only", key="explain.errors")
    classes = middle.multiselect("Gold class", sorted(table["gold"].unique()), key="explain.classes")
    low, high = right.slider("Confidence", 0.0, 1.0, (0.0, 1.0), 0.05, key="explain.confidence")
    chosen = table[(table["confidence"] >= low) & (table["confidence"] <= high)]
    if errors_only:
        chosen = chosen[~chosen["correct"]]
    if classes:
        chosen = chosen[chosen["gold"].isin(classes)]
    st.caption(f"{len(chosen)} of {len(table)} test examples match.")
    if chosen.empty:
        st.warning("No test example matches these filters; widen them, or type a text.")
        st.stop()
    rows = chosen.head(500)
    if row is not None and row in chosen.index and row not in rows.index:
        rows = pd.concat([table.loc[[row]], rows])
    if arriving and row is not None and row in rows.index:
        st.session_state["explain.example"] = row
    index = st.selectbox("Example", rows.index, key="explain.example",
                         format_func=lambda i: f"[gold {rows.at[i, 'gold']} · predicted {rows.at[i, 'predicted']} · "
                                               f"{rows.at[i, 'confidence']:.2f}] {str(rows.at[i, 'text'])[:90]}")
    return str(rows.at[index, "text"])


def _linked_row(table: pd.DataFrame, linked: str | None) -> object | None:
    """The table index of the linked example, or None (with an inline error when the link names no test example)."""
    if linked is None:
        return None
    found = table.index[table["example_id"].astype(str) == str(linked)]
    if found.empty:
        st.error(f"Example '{linked}' is not in this run's test split. Pick one below.")
        return None
    return found[0]

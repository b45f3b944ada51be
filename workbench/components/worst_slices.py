"""Worst slices: `ftlab.slices.discover` ranked in a table; a chosen slice (row or selectbox) shows its examples."""

from __future__ import annotations

import streamlit as st

from ftlab.errors import UserError
from ftlab.slices import Discovery, discover

from components.examples import examples_table
from components.prediction_source import Source, load

RANKED = 100
"""Candidate slices listed at most (significant ones first)."""
COLUMNS = {
    "description": st.column_config.TextColumn("Slice", width="medium"),
    "kind": "Kind",
    "size": st.column_config.NumberColumn("Examples", format="localized"),
    "errors": st.column_config.NumberColumn("Errors", format="localized"),
    "error_rate": st.column_config.NumberColumn("Error rate", format="%.3f"),
    "rest_error_rate": st.column_config.NumberColumn("Rest's error rate", format="%.3f"),
    "lift": st.column_config.NumberColumn("Lift", format="%.2f×", help="Error rate / overall error rate"),
    "q_value": st.column_config.NumberColumn("q (BH)", format="%.2g", help="Benjamini–Hochberg adjusted p-value"),
    "significant": st.column_config.CheckboxColumn("Significant"),
    "explained_by": st.column_config.TextColumn("Explained by", help="A significant wider slice it is no worse than"),
}


@st.cache_data(max_entries=16, show_spinner="Testing candidate slices…")
def _discovery(source: Source, min_support: int, alpha: float) -> Discovery:
    return discover(load(source), min_support=min_support, alpha=alpha)


def worst_slices(source: Source, key: str = "worst") -> None:
    """Settings, the ranked candidates, and the examples of the chosen one."""
    left, right = st.columns(2)
    min_support = left.number_input("Smallest slice (examples)", 5, 10_000, 20, 5, key=f"{key}.min_support")
    alpha = right.number_input("False discovery rate", 0.001, 0.5, 0.05, 0.01, format="%.3f", key=f"{key}.alpha")
    try:
        discovery = _discovery(source, int(min_support), float(alpha))
    except UserError as exc:  # in practice a table too small to search: a limit of the data, not a mistake
        st.warning(str(exc))
        return
    ranked = discovery.slices.head(RANKED)
    if ranked.empty:
        st.info("No candidate slice has enough examples inside and outside it: lower the smallest slice size.")
        return
    st.caption(f"{len(discovery.significant)} of {len(discovery.slices)} candidate slices err significantly more "
               f"often than the rest (one-sided Fisher test, Benjamini–Hochberg at {alpha:g}); overall error rate "
               f"{discovery.overall_error_rate:.3f}. Select a row to see its examples.")
    event = st.dataframe(ranked[list(COLUMNS)], hide_index=True, column_config=COLUMNS, on_select="rerun",
                         selection_mode="single-row", key=f"{key}.table")
    rows = list(event.selection.rows) if event is not None else []
    # A newly selected row picks its slice below; the selectbox stays free to choose another afterwards.
    if rows and rows != st.session_state.get(f"{key}.last_rows"):
        st.session_state[f"{key}.slice"] = ranked.index[rows[0]]
    st.session_state[f"{key}.last_rows"] = rows
    if st.session_state.get(f"{key}.slice") not in ranked.index:  # a slice of another run or setting
        st.session_state.pop(f"{key}.slice", None)
    choice = st.selectbox("Examples of", ranked.index, key=f"{key}.slice",
                          format_func=lambda s: f"{ranked.at[s, 'description']} ({ranked.at[s, 'errors']} errors "
                                                f"in {ranked.at[s, 'size']})")
    examples_table(discovery.examples(choice), key=f"{key}.examples", run_id=source.run_id if source.is_test else None)

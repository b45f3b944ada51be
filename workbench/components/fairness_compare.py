"""The Compare page's fairness section: accuracy and disparity of the chosen runs by one sensitive column."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ftlab.errors import UserError
from ftlab.slices import DISPARITIES, fairness_comparison, sensitive_columns, tradeoff_figure


@st.cache_data(show_spinner=False, max_entries=32)
def shared_columns(ids: tuple[str, ...]) -> list[str]:
    return sensitive_columns(ids)


@st.cache_data(show_spinner="Scoring the runs' test splits (once, then cached) and bootstrapping…", max_entries=16)
def comparison(ids: tuple[str, ...], by: str, n_boot: int) -> pd.DataFrame:
    return fairness_comparison(ids, by, n_boot=n_boot)


def interval(table: pd.DataFrame, name: str) -> pd.Series:
    return table.apply(lambda r: f"{r[name]:.3f} [{r[f'{name}_low']:.3f}, {r[f'{name}_high']:.3f}]", axis=1)


def fairness_section(ids: tuple[str, ...]) -> None:
    st.subheader("Fairness: before and after a mitigation")
    try:
        columns = shared_columns(ids)
    except UserError as exc:
        st.error(str(exc))
        return
    if not columns:
        st.caption("These runs' data share no metadata column with a few groups to compare (adult_text has sex and "
                   "race); train with --sensitive-col on such a dataset to compare mitigations here.")
        return
    left, right = st.columns(2)
    by = left.selectbox("Groups", columns, key="compare_fairness_by")
    n_boot = right.number_input("Bootstrap resamples", 100, 5000, 1000, 100, key="compare_fairness_boot")
    if not st.toggle(f"Compare accuracy and disparity by {by}", key="compare_fairness_on",
                     help="Scores each run's test split the first time (cached in the run folder)"):
        return
    try:
        table = comparison(ids, by, int(n_boot))
    except UserError as exc:
        st.error(str(exc))
        return
    shown = table[["run_id", "mitigation", "penalty_weight", "rows"]].copy()
    shown["accuracy [95% CI]"] = interval(table, "accuracy")
    for name, label in DISPARITIES.items():
        shown[f"{label} [95% CI]"] = interval(table, name)
    st.dataframe(shown, hide_index=True)
    st.plotly_chart(tradeoff_figure(table, title=f"Accuracy against disparity by {by}"), key="compare_tradeoff")
    st.caption("Lower disparity is fairer. Where two runs' intervals overlap, this test split cannot tell them "
               "apart. Equalised odds can rise while demographic parity falls: a model that predicts the same "
               "rate for every group may do so by erring differently for each.")

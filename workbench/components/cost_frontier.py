"""The Compare page's cost/value section: what each run cost (FLOPs, tokens, time, memory, size, money) against
what it reached, and the frontier of runs that no other run beats on both."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from ftlab.cost import COST_AXES, PRICE_ENV, cost_table, frontier_figure, pareto_front
from ftlab.errors import UserError

COLUMNS = {
    "run_id": st.column_config.TextColumn("run"), "method": st.column_config.TextColumn("method"),
    "quality": st.column_config.NumberColumn("quality", format="%.3f"),
    "on_frontier": st.column_config.CheckboxColumn("on frontier"),
    "train_flops": st.column_config.NumberColumn("est. FLOPs", format="%.3g"),
    "seeds_flops": st.column_config.NumberColumn("seeds' B×D×N", format="%.3g"),
    "tokens_seen": st.column_config.NumberColumn("tokens seen", format="localized"),
    "wall_seconds": st.column_config.NumberColumn("wall s", format="%.1f"),
    "money": st.column_config.NumberColumn("money", format="%.4f"),
    "model_mb": st.column_config.NumberColumn("saved MB", format="%.1f"),
    "peak_rss_mb": st.column_config.NumberColumn("peak RSS MB", format="%.0f"),
    "flops_formula": st.column_config.TextColumn("FLOPs formula"),
}


@st.cache_data(ttl=30, show_spinner=False)
def _table(ids: tuple[str, ...], stamp: tuple, price: float | None) -> pd.DataFrame:
    return cost_table(ids, price=price)


def _default_price() -> float | None:
    try:
        return float(os.environ[PRICE_ENV]) if os.environ.get(PRICE_ENV) else None
    except ValueError:
        return None


def cost_section(ids: tuple[str, ...], stamp: tuple) -> None:
    st.subheader("Cost and value")
    left, right = st.columns(2)
    price = left.number_input("Price per device-hour", min_value=0.0, value=_default_price(), step=0.5,
                              key="compare_price", placeholder="none",
                              help=f"Money = wall hours × processes × this price. Empty: no money figure. "
                                   f"Default from ${PRICE_ENV}.")
    axis = right.selectbox("Frontier against", list(COST_AXES), format_func=COST_AXES.get, key="compare_cost_axis")
    try:
        table = _table(ids, stamp, price)
    except UserError as exc:
        st.error(str(exc))
        return
    if table[axis].isna().all():
        st.info("Set a price per device-hour to draw the money frontier." if axis == "money" else
                f"None of these runs has {COST_AXES[axis]} (runs trained before ftlab recorded it).")
        return
    table = table.assign(on_frontier=pareto_front(table, axis))
    shown = [c for c in COLUMNS if c in table and (c != "money" or price is not None)]
    st.dataframe(table[shown], hide_index=True, column_config=COLUMNS, key="compare_cost_table")
    st.plotly_chart(frontier_figure(table, axis), key="compare_frontier")
    st.caption("Estimated FLOPs: 2·N·T forward + 2·N_back·T activation gradients + 2·N_train·T weight gradients "
               "(6·N·T for full fine-tuning), N the Linear weights measured on the model, T the non-padding tokens "
               "seen. The seeds' estimate B×D×N counts one multiply per parameter, padded position and step. "
               "`ftlab cost RUN` prints the same report; notebook 14 explains where the two differ.")

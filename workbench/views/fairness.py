"""Fairness: a run's metrics per slice with bootstrap intervals, the gaps between slices, and the worst slices."""

import streamlit as st

from ftlab.errors import UserError
from ftlab.slices import default_positive

from components.prediction_source import choose_source, table_of
from components.run_picker import finished_run
from components.slice_controls import slice_choice
from components.slice_table import RATES, TITLES, comparisons, disparity_figure, slice_table, summarize
from components.worst_slices import worst_slices

st.title("Fairness")
run_id = finished_run("fairness")
source = choose_source(run_id)
table = table_of(source)
st.caption(f"{len(table):,} examples of the {source.name}, scored by {run_id}.")

choice = slice_choice(table, "fairness")
labels = [str(c).removeprefix("prob_") for c in table.columns if str(c).startswith("prob_")]
with st.expander("Settings", expanded=True):
    first, second, third, fourth = st.columns(4)
    metric = first.selectbox("Metric", RATES, format_func=TITLES.get, key="fairness.metric")
    positive = second.selectbox("Positive label", labels, index=labels.index(default_positive(labels)),
                                key="fairness.positive", help="For selection rate, FPR, FNR and the fairness gaps")
    min_size = third.number_input("Smallest reliable slice", 1, 100_000, 30, 5, key="fairness.min_size",
                                  help="Slices with fewer examples are flagged: their intervals are wide.")
    n_boot = fourth.number_input("Bootstrap resamples", 0, 10_000, 1000, 100, key="fairness.n_boot",
                                 help="For the 95% intervals; 0 leaves them out.")
try:
    summary = summarize(source, choice, metric=metric, positive=positive, n_boot=int(n_boot), min_size=int(min_size))
except UserError as exc:
    st.error(str(exc))
    st.stop()

st.subheader(f"By {summary.by}")
slice_table(summary)
st.plotly_chart(disparity_figure(summary), key="fairness.chart")
comparisons(summary)

st.divider()
st.subheader("Worst slices")
st.caption("Words, phrases and metadata values (and pairs of them) where the model errs more often than elsewhere.")
worst_slices(source)

"""Errors: where a run goes wrong on its test split: confusion matrix, confident errors, calibration, per-class
report, and a map of its sentence embeddings."""

import pandas as pd
import streamlit as st

from ftlab.analysis import class_report, confident_errors

from components.error_views import calibration_section, confusion_section, embedding_section
from components.examples import examples_table
from components.prediction_source import Source, load, split_source, table_of
from components.run_picker import finished_run


@st.cache_data(max_entries=16, show_spinner=False)
def report(source: Source) -> pd.DataFrame:
    return class_report(load(source))


st.title("Errors")
run_id = finished_run("errors")
source = split_source(run_id)
table = table_of(source)
wrong = int((~table["correct"]).sum())
st.caption(f"{wrong:,} of {len(table):,} test examples are wrong ({wrong / len(table):.1%}). Each example links to "
           "its explanation on the Explain page.")

confusion_tab, confident_tab, calibration_tab, classes_tab, map_tab = st.tabs(
    ["Confusion matrix", "Most confident errors", "Calibration", "Per-class report", "Embedding map"])
with confusion_tab:
    confusion_section(source, table)
with confident_tab:
    n = st.number_input("Errors to list", 1, 1000, 20, 10, key="errors.n")
    examples_table(confident_errors(table, int(n)), key="errors.confident", run_id=run_id)
with calibration_tab:
    calibration_section(source, table)
with classes_tab:
    numbers = {c: st.column_config.NumberColumn(c, format="%.3f") for c in ("precision", "recall", "f1-score")}
    st.dataframe(report(source), column_config=numbers, key="errors.classes")
with map_tab:
    embedding_section(source, table)

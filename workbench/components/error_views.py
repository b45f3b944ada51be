"""The Errors page's sections: the confusion matrix with a cell's examples, calibration overall and per slice, and
the embedding map (on demand: embeddings take about 30 s the first time on a CPU, then come from the run folder).

Each takes the page's `Source`; what it computes is cached per source and settings (st.cache_data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ftlab.analysis import (calibration_by_slice, confusion, confusion_examples, confusion_figure,
                            embedding_map, expected_calibration_error, map_figure, reliability_figure, run_embeddings)
from ftlab.errors import UserError
from ftlab.slices.groups import metadata_columns

from components.examples import examples_table
from components.prediction_source import Source, load
from components.slice_controls import slice_labels, slice_names

NONE = "(none)"
MAP_METHODS = {"t-SNE": "tsne", "PCA": "pca"}


def confusion_section(source: Source, table: pd.DataFrame) -> None:
    """The heatmap, then gold/predicted pickers (the largest error cell first) and that cell's examples."""
    normalize = st.toggle("Show each gold row as fractions", key="errors.normalize")
    st.plotly_chart(confusion_figure(table, normalize="true" if normalize else None), key="errors.confusion")
    counts = confusion(table)
    labels = [str(label) for label in counts.index]
    errors = counts.to_numpy() * (1 - np.eye(len(labels), dtype=int))
    gold_at, predicted_at = np.unravel_index(errors.argmax(), errors.shape)
    left, right = st.columns(2)
    gold = left.selectbox("Gold", labels, index=int(gold_at), key="errors.gold")
    predicted = right.selectbox("Predicted", labels, index=int(predicted_at), key="errors.predicted")
    examples_table(confusion_examples(table, gold, predicted), key="errors.cell", run_id=source.run_id)


@st.cache_data(max_entries=32, show_spinner=False)
def _calibration(source: Source, by: str, bins: int) -> pd.DataFrame:
    return calibration_by_slice(load(source), slice_labels(source, by), bins=bins)


def calibration_section(source: Source, table: pd.DataFrame) -> None:
    """ECE and the reliability diagram, overall or one line per slice with each slice's ECE."""
    left, right = st.columns(2)
    bins = left.slider("Confidence bins", 5, 20, 10, key="errors.bins")
    by = right.selectbox("Per slice", [NONE, *slice_names(table)], key="errors.calibration_by",
                         help="Metadata columns, keyword groups (the shipped ones), text length or confidence")
    st.metric("Expected calibration error (ECE)", f"{expected_calibration_error(table, bins=bins):.3f}",
              help="Count-weighted mean gap between confidence and accuracy over the bins; 0 is perfect.")
    if by == NONE:
        st.plotly_chart(reliability_figure(table, bins=bins), key="errors.reliability")
        return
    try:
        per_slice, labels = _calibration(source, by, bins), slice_labels(source, by)
    except UserError as exc:
        st.error(str(exc))
        return
    numbers = {c: st.column_config.NumberColumn(c, format="%.3f") for c in ("accuracy", "confidence", "ece")}
    st.dataframe(per_slice, column_config=numbers, key="errors.calibration")
    st.plotly_chart(reliability_figure(table, labels, bins=bins), key="errors.reliability")


@st.cache_data(max_entries=8, show_spinner="Embedding the test texts (about 30 s the first time, then read from the "
                                            "run folder) and laying out the map…")
def _coordinates(source: Source, method: str) -> np.ndarray:
    return embedding_map(run_embeddings(source.run_id, "test").vectors, method=method)


def embedding_section(source: Source, table: pd.DataFrame) -> None:
    """The map of the run's own sentence embeddings, drawn when asked for, coloured by a column or a slice."""
    left, right = st.columns(2)
    method = left.radio("Method", list(MAP_METHODS), horizontal=True, key="errors.map_method",
                        help="t-SNE keeps neighbours together (seconds to a minute); PCA is instant but coarser.")
    colours = ["correct", "gold", "predicted", "confidence", *metadata_columns(table), "keywords", "length"]
    colour = right.selectbox("Colour by", colours, key="errors.colour")
    if st.button("Draw the embedding map", key="errors.draw_map"):
        st.session_state["errors.map_for"] = source
    if st.session_state.get("errors.map_for") != source:
        st.caption("Each point is a test text, placed by the run's own sentence embeddings; hover to read it.")
        return
    try:
        coordinates = _coordinates(source, MAP_METHODS[method])
        colour_by = slice_labels(source, colour) if colour in ("keywords", "length") else colour
        st.plotly_chart(map_figure(coordinates, table, colour_by), key="errors.map")
    except UserError as exc:
        st.error(str(exc))

"""The slice report on a page: its table with intervals (small slices flagged), the disparity chart, the
differences and ratios, and the fairness differences.

`summarize` runs `ftlab.slices.slice_report` once per source and settings (st.cache_data) and keeps only plain
tables, so a re-render with the same settings is instant and nothing unpicklable goes into the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ftlab.slices import FAIRNESS, METRICS, slice_report

from components.prediction_source import Source, load
from components.slice_controls import SliceChoice, keyword_groups

RATES = [m for m in METRICS if m != "count"]
TITLES = {"accuracy": "Accuracy", "macro_f1": "Macro-F1", "selection_rate": "Selection rate",
          "false_positive_rate": "False positive rate", "false_negative_rate": "False negative rate"}
COMPARISONS = [("difference", "between_groups", "Difference between slices (largest − smallest)"),
               ("difference", "to_overall", "Difference to overall (largest gap)"),
               ("ratio", "between_groups", "Ratio between slices (smallest / largest)"),
               ("ratio", "to_overall", "Ratio to overall (smallest)")]
FAIRNESS_TITLES = {"demographic_parity_difference": "Demographic parity difference (selection rates)",
                   "equalized_odds_difference": "Equalized odds difference (TPR and FPR gaps)"}


@dataclass(frozen=True)
class SliceSummary:
    """What the page shows of one `SliceReport`, as plain tables."""

    by: str
    """The slicing's name, e.g. "sex & race"."""
    frame: pd.DataFrame
    """`SliceReport.to_frame()`: the overall row "(all)" first, then one row per slice."""
    compared: pd.DataFrame
    """One row per entry of COMPARISONS for the chosen metric: value, low, high."""
    fairness: pd.DataFrame
    """`SliceReport.fairness`: demographic parity and equalized odds differences, value, low, high."""
    labels: list[str]
    """The run's labels."""
    positive: str
    """The label counted as positive for selection rate, FPR, FNR and the fairness metrics."""
    metric: str
    """The metric the chart and the comparisons are about."""
    min_size: int
    """Slices with fewer rows are flagged small."""


@st.cache_data(max_entries=64, show_spinner="Computing the slice report…")
def summarize(source: Source, choice: SliceChoice, *, metric: str, positive: str | None, n_boot: int,
              min_size: int) -> SliceSummary:
    """The slice report of `source` sliced by `choice`; raises the library's `UserError` for a slicing that fails."""
    keywords = keyword_groups(choice.keywords) if choice.keywords is not None else None
    report = slice_report(load(source), by=list(choice.by), keywords=keywords, metric=metric, positive=positive,
                          n_boot=n_boot, min_size=min_size)
    compared = pd.DataFrame(
        [(getattr(report, kind)(metric, method), *getattr(report, f"{kind}_ci")(metric, method))
         for kind, method, _ in COMPARISONS],
        index=[title for *_, title in COMPARISONS], columns=["value", "low", "high"])
    return SliceSummary(report.sensitive_feature, report.to_frame(), compared, report.fairness, report.labels,
                        report.positive, metric, min_size)


def slice_table(summary: SliceSummary) -> None:
    """The slices with every metric and its interval; small slices carry a visible note."""
    frame = summary.frame.copy()
    frame.insert(2, "note", ["⚠ small: wide interval" if small else "" for small in frame.pop("small")])
    ordered = [summary.metric, *(m for m in RATES if m != summary.metric)]
    frame = frame[["slice", "count", "note", *(f"{m}{part}" for m in ordered for part in ("", "_low", "_high"))]]
    config = {"slice": st.column_config.TextColumn(summary.by, pinned=True),
              "count": st.column_config.NumberColumn("Examples", format="localized"),
              "note": st.column_config.TextColumn("Note", help=f"Fewer than {summary.min_size} examples")}
    for m in RATES:
        config |= {m: st.column_config.NumberColumn(TITLES[m], format="%.3f"),
                   f"{m}_low": st.column_config.NumberColumn("low", format="%.3f", help=f"{TITLES[m]}: 95% low"),
                   f"{m}_high": st.column_config.NumberColumn("high", format="%.3f", help=f"{TITLES[m]}: 95% high")}
    st.dataframe(frame, hide_index=True, column_config=config, key="slices.table")
    small = summary.frame.loc[summary.frame["small"], "slice"].tolist()
    if small:
        st.warning(f"{len(small)} slice(s) have fewer than {summary.min_size} examples ({', '.join(map(str, small))}): "
                   "their intervals are wide; read their numbers with care.")


def disparity_figure(summary: SliceSummary) -> go.Figure:
    """The chosen metric per slice with its interval as error bars, and the overall value as a line."""
    metric, frame = summary.metric, summary.frame
    overall, slices = frame.iloc[0], frame.iloc[1:]
    figure = go.Figure()
    for small, part in slices.groupby("small", sort=True):
        figure.add_scatter(
            x=part["slice"].astype(str), y=part[metric], mode="markers", marker={"size": 10},
            name=f"under {summary.min_size} examples" if small else "slice",
            marker_color="#FFA15A" if small else "#636EFA",
            error_y={"type": "data", "symmetric": False, "array": part[f"{metric}_high"] - part[metric],
                     "arrayminus": part[metric] - part[f"{metric}_low"]},
            customdata=part[["count", f"{metric}_low", f"{metric}_high"]].to_numpy(),
            hovertemplate="%{x}: %{y:.3f} [%{customdata[1]:.3f}, %{customdata[2]:.3f}], "
                          "%{customdata[0]} examples<extra></extra>")
    figure.add_hline(y=overall[metric], line_dash="dash", line_color="gray",
                     annotation_text=f"overall {overall[metric]:.3f}", annotation_position="top right")
    figure.update_layout(title=f"{TITLES[metric]} by {summary.by} (95% bootstrap intervals)", xaxis_title=summary.by,
                         yaxis_title=TITLES[metric], xaxis={"type": "category", "categoryorder": "array",
                                                            "categoryarray": slices["slice"].astype(str).tolist()},
                         legend={"orientation": "h", "y": -0.3}, height=420)
    return figure


def comparisons(summary: SliceSummary) -> None:
    """Differences and ratios of the chosen metric, and (two labels) the fairness differences, with intervals."""
    numbers = {c: st.column_config.NumberColumn(c, format="%.3f") for c in ("value", "low", "high")}
    left, right = st.columns(2)
    left.markdown(f"**{TITLES[summary.metric]}: gaps between slices** (95% intervals)")
    left.dataframe(summary.compared, column_config=numbers, key="slices.compared")
    if len(summary.labels) != 2:
        return
    right.markdown(f"**Fairness** (positive label: {summary.positive})")
    fairness = summary.fairness.rename(index=FAIRNESS_TITLES).reindex([FAIRNESS_TITLES[f] for f in FAIRNESS])
    right.dataframe(fairness, column_config=numbers, key="slices.fairness")
    right.caption("0 means equal rates in every slice. A gap is never negative, so when slices barely differ the "
                  "interval can lie above the value: read it as how large the gap could be.")

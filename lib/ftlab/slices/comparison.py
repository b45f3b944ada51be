"""Before vs after a mitigation: accuracy and disparity of several runs on one sensitive column, with intervals.

Each run's slice report (`slice_report`, bootstrap CIs) is read down to one row: how accurate the run is and how
far apart its groups are, in demographic parity and in equalised odds. A mitigation trades some of the first for
the second; `tradeoff_figure` draws that trade-off, both disparities side by side, because pushing one down can push
the other up.

>>> table = fairness_comparison(["adult-plain", "adult-dp"], by="sex")  # doctest: +SKIP
>>> tradeoff_figure(table)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ftlab.errors import UserError
from ftlab.slices.report import FAIRNESS, slice_report

DISPARITIES = {"demographic_parity_difference": "demographic-parity difference",
               "equalized_odds_difference": "equalised-odds difference"}


def sensitive_columns(run_ids: Sequence[str], split: str = "test", *, max_groups: int = 20) -> list[str]:
    """Metadata columns every run's `split` has, with 2 to `max_groups` values: what groups can be compared on
    (sex and race on adult_text; age has too many values to be one). Reads the splits only, scores nothing."""
    from ftlab.evaluate import read_split
    from ftlab.slices.groups import metadata_columns

    shared: list[str] | None = None
    for run_id in run_ids:
        frame = read_split(run_id, split)
        usable = [c for c in metadata_columns(frame.rename(columns={"label": "gold"}))
                  if 2 <= frame[c].nunique(dropna=True) <= max_groups]
        shared = usable if shared is None else [c for c in shared if c in usable]
    return shared or []


def fairness_comparison(run_ids: Sequence[str], by: str | Sequence[str], *, split: str = "test", n_boot: int = 1000,
                        positive: str | None = None, random_state: int = 0) -> pd.DataFrame:
    """One row per run: its mitigation, accuracy and both disparities across the `by` slices, each with a CI.

    Columns: run_id, mitigation, penalty_weight, rows, accuracy(_low/_high), then for each of
    demographic_parity_difference and equalized_odds_difference the value and its _low/_high. Runs need their
    predictions on `split` (computed once and cached in the run folder, as `ftlab evaluate` does).
    """
    from ftlab.mitigation.registry import penalty_weight
    from ftlab.runs import read_config

    run_ids = [run_ids] if isinstance(run_ids, str) else list(dict.fromkeys(run_ids))
    if not run_ids:
        raise UserError("Pick at least one run to compare.")
    rows = []
    for run_id in run_ids:
        report = slice_report(run_id, by=by, split=split, n_boot=n_boot, positive=positive,
                              random_state=random_state)
        config = read_config(run_id)
        overall = report.overall
        row: dict[str, Any] = {"run_id": run_id, "mitigation": config.mitigation,
                               "penalty_weight": penalty_weight(config),
                               "rows": int(report.by_group["count"].sum())}
        row.update(_interval(overall, "accuracy"))
        for name in FAIRNESS:
            row.update({name: report.fairness.at[name, "value"], f"{name}_low": report.fairness.at[name, "low"],
                        f"{name}_high": report.fairness.at[name, "high"]})
        rows.append(row)
    return pd.DataFrame(rows)


def _interval(overall: pd.DataFrame, metric: str) -> dict[str, float]:
    """`metric`'s value and interval from a report's `overall` table (a row per metric: value, low, high)."""
    value, low, high = (float(overall.at[metric, column]) for column in ("value", "low", "high"))
    return {metric: value, f"{metric}_low": low, f"{metric}_high": high}


def tradeoff_figure(table: pd.DataFrame, *, title: str = "Accuracy against disparity"):
    """Accuracy (y) against each disparity (x), one point per run with its intervals in both directions."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(DISPARITIES), shared_yaxes=True, subplot_titles=list(DISPARITIES.values()))
    for col, (name, label) in enumerate(DISPARITIES.items(), start=1):
        for row in table.itertuples(index=False):
            values = row._asdict()
            fig.add_trace(go.Scatter(
                x=[values[name]], y=[values["accuracy"]], mode="markers+text", text=[values["run_id"]],
                textposition="top center", name=values["run_id"], legendgroup=values["run_id"], showlegend=col == 1,
                error_x={"type": "data", "symmetric": False, "array": [values[f"{name}_high"] - values[name]],
                         "arrayminus": [values[name] - values[f"{name}_low"]]},
                error_y={"type": "data", "symmetric": False, "array": [values["accuracy_high"] - values["accuracy"]],
                         "arrayminus": [values["accuracy"] - values["accuracy_low"]]},
                hovertemplate=f"{values['run_id']} ({values['mitigation']})<br>{label} %{{x:.3f}}"
                              "<br>accuracy %{y:.3f}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text=f"{label} (lower is fairer)", rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="accuracy", row=1, col=1)
    fig.update_layout(title=title, height=420)
    return fig

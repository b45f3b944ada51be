"""Plotly figures for training curves: one line per metric (or per run), raw points faint under the smoothed line."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ftlab.curves import smooth

X_TITLES = {"step": "step", "seconds": "wall time (s)"}


def curves_figure(frame: pd.DataFrame, *, series: str = "metric", x: str = "step", smoothing: float = 0.0,
                  title: str = "", height: int = 300) -> go.Figure:
    """Lines of `value` against `x`, one per distinct value of the `series` column."""
    figure = go.Figure()
    palette = iter(_PALETTE * 4)
    for name, points in frame.groupby(series, sort=False):
        points = points.sort_values(x)
        color = next(palette)
        if smoothing > 0 and len(points) > 2:
            figure.add_scatter(x=points[x], y=points["value"], name=f"{name} (raw)", mode="lines",
                               line={"color": color, "width": 1}, opacity=0.25, showlegend=False, hoverinfo="skip")
            values = smooth(points["value"].to_numpy(), smoothing)
        else:
            values = points["value"]
        mode = "lines+markers" if len(points) < 40 else "lines"
        figure.add_scatter(x=points[x], y=values, name=str(name), mode=mode, line={"color": color, "width": 2},
                           marker={"size": 5})
    figure.update_layout(title=title or None, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                         xaxis_title=X_TITLES.get(x, x), legend={"orientation": "h", "y": -0.25},
                         hovermode="x unified", uirevision="keep-zoom")  # a live refresh keeps the user's zoom
    return figure


_PALETTE = ["#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FF97FF",
            "#FECB52"]

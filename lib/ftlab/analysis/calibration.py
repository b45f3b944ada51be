"""Calibration of a run's predictions: reliability-diagram data, expected calibration error (ECE), overall and per
slice, and a plotly reliability diagram.

This is top-label calibration: each row counts with the confidence of its predicted class (the table's
`confidence` column, the largest probability) and whether that prediction was correct, for binary problems too.
So a 0.3 probability of ">50K" counts as 0.7 confidence in "<=50K"; this is not the positive-class calibration of
`sklearn.calibration.calibration_curve`.

>>> table, _ = predictions("lora-rt-demo")  # doctest: +SKIP
>>> expected_calibration_error(table)  # doctest: +SKIP
0.041
>>> calibration_by_slice(table, "sex")  # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from ftlab.analysis.errors import require_columns
from ftlab.errors import UserError

Slices = str | pd.Series
"""A metadata column of the table, or slice labels aligned with the table row by row (e.g.
`Discovery.membership(slice_id)`)."""


def reliability(table: pd.DataFrame, *, bins: int = 10) -> pd.DataFrame:
    """One row per equal-width confidence bin over [0, 1]: lower, upper, count, confidence (mean), accuracy and
    gap (accuracy − confidence; negative means over-confident). Empty bins have count 0 and NaN means.

    Written here rather than taken from sklearn's `calibration_curve`, which is positive-class only and drops the
    bin counts that ECE weights by.
    """
    confidence, correct = _columns(table, bins)
    return _bin(confidence, correct, bins)


def expected_calibration_error(table: pd.DataFrame, *, bins: int = 10) -> float:
    """ECE: the count-weighted mean of |accuracy − confidence| over the equal-width bins (0 is perfect)."""
    return _ece(reliability(table, bins=bins))


def calibration_by_slice(table: pd.DataFrame, slices: Slices, *, bins: int = 10) -> pd.DataFrame:
    """Per slice: count, accuracy, mean confidence and ECE, largest slices first; the first row is the whole table
    ('(overall)')."""
    confidence, correct = _columns(table, bins)
    labels = _labels(table, slices)
    rows = {"(overall)": _summary(confidence, correct, bins)}
    for label in labels.value_counts().index:
        inside = (labels == label).to_numpy()
        rows[str(label)] = _summary(confidence[inside], correct[inside], bins)
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = labels.name or "slice"
    return frame


def reliability_by_slice(table: pd.DataFrame, slices: Slices, *, bins: int = 10) -> pd.DataFrame:
    """`reliability` of each slice, stacked, with a `slice` column (long format, for plotting and tables)."""
    confidence, correct = _columns(table, bins)
    labels = _labels(table, slices)
    parts = [_bin(confidence[(labels == label).to_numpy()], correct[(labels == label).to_numpy()], bins)
             .assign(slice=str(label)) for label in labels.value_counts().index]
    return pd.concat(parts, ignore_index=True)


def reliability_figure(table: pd.DataFrame, slices: Slices | None = None, *, bins: int = 10,
                       title: str | None = None) -> Any:
    """Plotly reliability diagram: accuracy against mean confidence per bin, with the diagonal of perfect calibration.

    Without `slices`: one bar per non-empty bin. With `slices`: one line of points per slice, named with its ECE.
    """
    import plotly.graph_objects as go

    figure = go.Figure()
    if slices is None:
        data = reliability(table, bins=bins)
        shown = data[data["count"] > 0]
        figure.add_bar(x=(shown["lower"] + shown["upper"]) / 2, y=shown["accuracy"], width=1 / bins, name="accuracy",
                       customdata=np.stack([shown["count"], shown["confidence"]], axis=-1),
                       hovertemplate="confidence %{customdata[1]:.2f}, accuracy %{y:.2f} "
                                     "(%{customdata[0]} examples)<extra></extra>")
        heading = f"Reliability diagram (ECE {_ece(data):.3f})"
    else:
        data = reliability_by_slice(table, slices, bins=bins)
        for label, part in data.groupby("slice", sort=False):
            shown = part[part["count"] > 0]
            figure.add_scatter(x=shown["confidence"], y=shown["accuracy"], mode="lines+markers",
                               name=f"{label} (ECE {_ece(part):.3f})", customdata=shown["count"],
                               hovertemplate=f"{label}: confidence %{{x:.2f}}, accuracy %{{y:.2f}} "
                                             "(%{customdata} examples)<extra></extra>")
        heading = "Reliability diagram per slice"
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                       line={"dash": "dash", "color": "gray"}, hoverinfo="skip")
    figure.update_layout(title=title or heading, xaxis_title="confidence of the predicted class",
                         yaxis_title="accuracy", xaxis={"range": [0, 1]}, yaxis={"range": [0, 1.02]})
    return figure


def _columns(table: Any, bins: Any) -> tuple[np.ndarray, np.ndarray]:
    require_columns(table, ("confidence", "correct"), "Calibration")
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise UserError(f"bins must be a positive whole number, got {bins!r}. Example: bins=10.")
    confidence = table["confidence"].to_numpy(dtype=float)
    if np.isnan(confidence).any() or table["correct"].isna().any():
        raise UserError("The table's confidence or correct column has missing values. Use a predictions table from "
                        "ftlab.evaluate.predictions(run_id).")
    return confidence, table["correct"].astype(bool).to_numpy()


def _labels(table: pd.DataFrame, slices: Slices) -> pd.Series:
    if isinstance(slices, str):
        if slices not in table.columns:
            raise UserError(f"Unknown column '{slices}': the table's columns are "
                            f"{', '.join(map(str, table.columns))}. Example: slices='{table.columns[-1]}'.")
        return table[slices].astype("string").fillna("(missing)")
    if not isinstance(slices, pd.Series) or len(slices) != len(table):
        size = len(slices) if hasattr(slices, "__len__") else "no"
        raise UserError(f"slices must be a column name or a pandas Series with one label per table row; the table "
                        f"has {len(table)} rows, the slices {size}. Example: slices='sex'.")
    return pd.Series(slices.to_numpy(), name=slices.name).astype("string").fillna("(missing)")


def _bin(confidence: np.ndarray, correct: np.ndarray, bins: int) -> pd.DataFrame:
    # Confidence 1.0 belongs to the last bin, not to an eleventh one.
    index = np.clip((confidence * bins).astype(int), 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(index, weights=correct.astype(float), minlength=bins) / count
    edges = np.linspace(0, 1, bins + 1)
    return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "count": count, "confidence": mean_confidence,
                         "accuracy": accuracy, "gap": accuracy - mean_confidence})


def _ece(reliability_table: pd.DataFrame) -> float:
    filled = reliability_table[reliability_table["count"] > 0]
    if filled.empty:
        return float("nan")
    return float(np.average(filled["gap"].abs(), weights=filled["count"]))


def _summary(confidence: np.ndarray, correct: np.ndarray, bins: int) -> dict[str, float]:
    return {"count": len(confidence), "accuracy": float(correct.mean()), "confidence": float(confidence.mean()),
            "ece": _ece(_bin(confidence, correct, bins))}

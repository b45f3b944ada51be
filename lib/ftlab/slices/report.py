"""The slice report: a classifier's metrics per slice, with bootstrap intervals, in fairlearn's MetricFrame mould.

`SliceReport` wraps one `fairlearn.metrics.MetricFrame` (count, accuracy, macro-F1, selection rate, FPR, FNR per
slice and overall; its `difference`/`ratio`) and adds bootstrap intervals for every number, the `small` flag for
slices under `min_size` rows, and fairlearn's demographic-parity and equalised-odds differences with intervals.
Everything is computed once, in the constructor.

The positive label (for selection rate, FPR, FNR and the fairness metrics; one-vs-rest when there are more than
two labels) defaults to the second label in sorted order: ">50K" for adult_text ("<=50K" < ">50K"), "1" for 0/1,
"pos" for neg/pos, "True" for False/True. Pass `positive=` for another one, and always for multi-class tasks.

>>> report = slice_report("full-adult-demo", by=["sex"], n_boot=1000)  # doctest: +SKIP
>>> report.by_group[["count", "accuracy", "accuracy_low", "accuracy_high", "small"]]  # doctest: +SKIP
>>> report.difference("false_positive_rate"), report.difference_ci("false_positive_rate")  # doctest: +SKIP
>>> report.fairness  # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from fairlearn.metrics import (MetricFrame, count, demographic_parity_difference, equalized_odds_difference,
                               selection_rate)
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from ftlab.errors import UserError
from ftlab.slices import _bootstrap
from ftlab.slices._bootstrap import RATE_METRICS
from ftlab.slices.groups import check_table, sensitive_features

METRICS = ("count", *RATE_METRICS)
Method = Literal["between_groups", "to_overall"]
Bootstrap = Literal["counts", "metricframe"]
FAIRNESS = ("demographic_parity_difference", "equalized_odds_difference")
OVERALL = "(all)"
"""The overall row's name in `to_frame()`."""
_COMPARE_KEYS = [(kind, method) for kind in ("difference", "ratio") for method in get_args(Method)]


def metric_functions(positive: str) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """The per-slice metrics as MetricFrame takes them (y_true, y_pred of label strings)."""

    def rates(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
        # fairlearn's own FPR/FNR call an undefined rate 0; a slice without negatives has no FPR: NaN says so.
        (tn, fp), (fn, tp) = confusion_matrix(y_true == positive, y_pred == positive, labels=[False, True])
        return (fp / (fp + tn) if fp + tn else math.nan), (fn / (fn + tp) if fn + tp else math.nan)

    return {
        "count": count,
        "accuracy": accuracy_score,
        "macro_f1": lambda y_true, y_pred: f1_score(y_true, y_pred, average="macro", zero_division=0),
        "selection_rate": lambda y_true, y_pred: selection_rate(y_true, y_pred, pos_label=positive),
        "false_positive_rate": lambda y_true, y_pred: rates(y_true, y_pred)[0],
        "false_negative_rate": lambda y_true, y_pred: rates(y_true, y_pred)[1],
    }


def default_positive(labels: Sequence[str]) -> str:
    """The second label in sorted order (">50K", "1", "pos", "True"); the only one if there is just one."""
    ordered = sorted(labels)
    return ordered[1] if len(ordered) > 1 else ordered[0]


@dataclass(frozen=True)
class _Data:
    y_true: np.ndarray
    """Gold labels, as strings."""
    y_pred: np.ndarray
    """Predicted labels, as strings."""
    groups: pd.Series
    """Each row's slice, as a string series named after the slicing."""
    order: list[str]
    """The slices present, in display order."""


@dataclass(frozen=True)
class _Intervals:
    """Bootstrap bounds of every number the report shows."""

    overall: tuple[pd.Series, pd.Series]
    """(low, high), indexed by the rate metrics."""
    by_group: tuple[pd.DataFrame, pd.DataFrame]
    """(low, high): one row per slice in display order, one column per rate metric."""
    compare: dict[tuple[str, str, str], tuple[float, float]]
    """(kind, method, metric) -> (low, high), kind "difference" or "ratio"."""
    fairness: dict[str, tuple[float, float]]
    """Fairness metric -> (low, high)."""

    @classmethod
    def empty(cls, order: list[str]) -> _Intervals:
        """NaN everywhere: n_boot=0."""
        overall = pd.Series(np.nan, index=list(RATE_METRICS))
        by_group = pd.DataFrame(np.nan, index=order, columns=list(RATE_METRICS))
        return cls((overall, overall), (by_group, by_group),
                   {(*key, m): (math.nan, math.nan) for key in _COMPARE_KEYS for m in RATE_METRICS},
                   dict.fromkeys(FAIRNESS, (math.nan, math.nan)))


class SliceReport:
    """Metrics per slice and overall, with bootstrap intervals; built on `fairlearn.metrics.MetricFrame`.

    Parameters (keyword-only)
    ----------
    y_true, y_pred : gold and predicted labels (strings), one per example.
    sensitive_features : the slice of each example, e.g. from `ftlab.slices.sensitive_features`; an ordered
        categorical keeps its order in the tables, anything else is sorted.
    labels : the label set (default: those seen in y_true and y_pred); positive must be one of them.
    positive : the label counted as positive for selection rate, FPR, FNR and fairness (see the module docstring).
    metric : the headline metric, the default of `difference` and `ratio`.
    n_boot, ci_quantiles, random_state : the bootstrap (MetricFrame's parameters): resamples of the rows, the two
        quantiles bounding each interval (95%: 0.025, 0.975), and its seed. n_boot=0 leaves the intervals NaN.
    min_size : slices with fewer rows are flagged `small` (their intervals are wide), never dropped.
    bootstrap : "counts" (default) draws MetricFrame's resamples and counts them (fast, same result);
        "metricframe" lets MetricFrame re-score every resample (minutes for n_boot=1000; for checking).
    """

    def __init__(self, *, y_true: Sequence[Any], y_pred: Sequence[Any], sensitive_features: pd.Series | Sequence[Any],
                 labels: Sequence[str] | None = None, positive: str | None = None, metric: str = "accuracy",
                 n_boot: int = 1000, ci_quantiles: Sequence[float] = (0.025, 0.975),
                 random_state: int | np.random.RandomState | None = 0, min_size: int = 30,
                 bootstrap: Bootstrap = "counts") -> None:
        y_true, y_pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
        slices = _as_slices(sensitive_features, len(y_true), len(y_pred))
        self.labels = sorted(set(map(str, labels)) if labels is not None else set(y_true) | set(y_pred))
        if unknown := sorted((set(y_true) | set(y_pred)) - set(self.labels)):
            raise UserError(f"Labels {unknown} in y_true or y_pred are not among the labels {self.labels}. "
                            "Pass labels= with every label the model can predict.")
        self.positive = _check_options(self.labels, positive, metric, n_boot, ci_quantiles, min_size, bootstrap)
        self.metric, self.n_boot, self.min_size = metric, n_boot, min_size
        self.ci_quantiles = [float(q) for q in ci_quantiles]
        self.sensitive_feature = str(slices.name)
        order = [str(c) for c in slices.cat.categories if (slices == c).any()]
        groups = slices.astype(str).rename(self.sensitive_feature)
        self.metric_frame = MetricFrame(metrics=metric_functions(self.positive), y_true=y_true, y_pred=y_pred,
                                        sensitive_features=groups)
        """The underlying fairlearn MetricFrame (point estimates, no bootstrap)."""
        data = _Data(y_true, y_pred, groups, order)
        if n_boot == 0:
            ci = _Intervals.empty(order)
        elif bootstrap == "counts":
            ci = self._counted_intervals(data, random_state)
        else:
            ci = self._metricframe_intervals(data, random_state)

        self._overall = pd.DataFrame({"value": self.metric_frame.overall[list(METRICS)].astype(float),
                                      "low": ci.overall[0], "high": ci.overall[1]})
        by_group = self.metric_frame.by_group.reindex(pd.Index(order, name=self.sensitive_feature))
        self._by_group = _by_group_table(by_group, *ci.by_group, min_size)
        self._compare: dict[tuple[str, str, str], tuple[float, float, float]] = {}
        for kind, method in _COMPARE_KEYS:
            value = getattr(self.metric_frame, kind)(method=method)
            self._compare |= {(kind, method, m): (value[m], *ci.compare[kind, method, m]) for m in RATE_METRICS}
        binary_true, binary_pred = (y_true == self.positive).astype(int), (y_pred == self.positive).astype(int)
        values = [demographic_parity_difference(binary_true, binary_pred, sensitive_features=groups),
                  equalized_odds_difference(binary_true, binary_pred, sensitive_features=groups)]
        self._fairness = pd.DataFrame({"value": values, "low": [ci.fairness[name][0] for name in FAIRNESS],
                                       "high": [ci.fairness[name][1] for name in FAIRNESS]},
                                      index=pd.Index(FAIRNESS, name="metric"), dtype=float)

    def _resampled_confusion(self, data: _Data, random_state: Any) -> np.ndarray:
        label_index = {label: i for i, label in enumerate(self.labels)}
        return _bootstrap.resampled_confusion(
            np.asarray(pd.Categorical(data.groups, categories=data.order).codes, dtype=np.int64),
            np.array([label_index[y] for y in data.y_true]), np.array([label_index[y] for y in data.y_pred]),
            n_groups=len(data.order), n_labels=len(self.labels), n_boot=self.n_boot, random_state=random_state)

    def _counted_intervals(self, data: _Data, random_state: Any) -> _Intervals:
        cm = self._resampled_confusion(data, random_state)
        positive = self.labels.index(self.positive)
        by_group = _bootstrap.confusion_metrics(cm, positive)  # (n_boot, groups, metrics)
        overall = _bootstrap.confusion_metrics(cm.sum(axis=1), positive)  # (n_boot, metrics)
        group_q = _bootstrap.quantiles(by_group, self.ci_quantiles, skip_nan=True)
        overall_q = _bootstrap.quantiles(overall, self.ci_quantiles, skip_nan=False)
        compare = {}
        for (kind, method), samples in _bootstrap.compare(by_group, overall).items():
            q = _bootstrap.quantiles(samples, self.ci_quantiles, skip_nan=False)
            compare |= {(kind, method, m): (q[0, j], q[1, j]) for j, m in enumerate(RATE_METRICS)}
        return _Intervals(
            overall=tuple(pd.Series(q, index=list(RATE_METRICS)) for q in overall_q),
            by_group=tuple(pd.DataFrame(q, index=data.order, columns=list(RATE_METRICS)) for q in group_q),
            compare=compare, fairness=self._fairness_intervals(cm))

    def _metricframe_intervals(self, data: _Data, random_state: Any) -> _Intervals:
        frame = MetricFrame(metrics=metric_functions(self.positive), y_true=data.y_true, y_pred=data.y_pred,
                            sensitive_features=data.groups, n_boot=self.n_boot, ci_quantiles=self.ci_quantiles,
                            random_state=random_state)
        compare = {}
        for kind, method in _COMPARE_KEYS:
            low, high = getattr(frame, f"{kind}_ci")(method)
            compare |= {(kind, method, m): (low[m], high[m]) for m in RATE_METRICS}
        return _Intervals(
            overall=tuple(q[list(RATE_METRICS)].astype(float) for q in frame.overall_ci),
            by_group=tuple(q.reindex(data.order)[list(RATE_METRICS)] for q in frame.by_group_ci),
            compare=compare, fairness=self._fairness_intervals(self._resampled_confusion(data, random_state)))

    def _fairness_intervals(self, cm: np.ndarray) -> dict[str, tuple[float, float]]:
        samples = _bootstrap.fairness_samples(cm, self.labels.index(self.positive))
        return {name: tuple(_bootstrap.quantiles(samples[name], self.ci_quantiles, skip_nan=False))
                for name in FAIRNESS}

    @property
    def overall(self) -> pd.DataFrame:
        """One row per metric (count first): value, low, high (count has no interval)."""
        return self._overall.copy()

    @property
    def by_group(self) -> pd.DataFrame:
        """One row per slice, in slice order: count, each metric with <metric>_low and <metric>_high, small."""
        return self._by_group.copy()

    @property
    def fairness(self) -> pd.DataFrame:
        """fairlearn's demographic_parity_difference and equalized_odds_difference between slices: value, low, high.

        A gap between slices is never negative, so resampling inflates a small one: when slices barely differ, the
        interval can lie above the value. Read it as "how large could the gap be".
        """
        return self._fairness.copy()

    def difference(self, metric: str | None = None, method: Method = "between_groups") -> float:
        """MetricFrame.difference: largest gap between two slices, or of a slice to overall (NaN slices skipped)."""
        return self._compared("difference", metric, method)[0]

    def difference_ci(self, metric: str | None = None, method: Method = "between_groups") -> tuple[float, float]:
        """The bootstrap interval (low, high) of `difference`."""
        return self._compared("difference", metric, method)[1:]

    def ratio(self, metric: str | None = None, method: Method = "between_groups") -> float:
        """MetricFrame.ratio: smallest slice / largest slice, or slice vs overall, as a number <= 1."""
        return self._compared("ratio", metric, method)[0]

    def ratio_ci(self, metric: str | None = None, method: Method = "between_groups") -> tuple[float, float]:
        """The bootstrap interval (low, high) of `ratio`."""
        return self._compared("ratio", metric, method)[1:]

    def _compared(self, kind: str, metric: str | None, method: str) -> tuple[float, float, float]:
        metric = metric or self.metric
        if metric not in RATE_METRICS:
            raise UserError(f"Unknown metric '{metric}' to compare. Use one of: {', '.join(RATE_METRICS)}.")
        if method not in get_args(Method):
            raise UserError(f"Unknown method '{method}'. Use one of: {', '.join(get_args(Method))}.")
        value, low, high = self._compare[kind, method, metric]
        return float(value), float(low), float(high)

    def to_frame(self, *, overall: bool = True) -> pd.DataFrame:
        """For display: slice, count, each metric with low/high, small; the overall row "(all)" first."""
        frame = self._by_group.reset_index(names="slice")
        if overall:
            row = {"slice": OVERALL, "count": int(self._overall.loc["count", "value"]), "small": False}
            for m in RATE_METRICS:
                row |= {m: self._overall.loc[m, "value"], f"{m}_low": self._overall.loc[m, "low"],
                        f"{m}_high": self._overall.loc[m, "high"]}
            frame = pd.concat([pd.DataFrame([row], columns=frame.columns), frame], ignore_index=True)
        return frame.astype({"count": int, "small": bool})

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (NaN -> None) everything: settings, overall, slices, differences, ratios, fairness."""

        def interval(value: Any, low: Any, high: Any) -> dict[str, float | None]:
            return {"value": _json(value), "low": _json(low), "high": _json(high)}

        return {
            "by": self.sensitive_feature, "labels": self.labels, "positive": self.positive, "metric": self.metric,
            "n_boot": self.n_boot, "ci_quantiles": self.ci_quantiles, "min_size": self.min_size,
            "overall": {"count": int(self._overall.loc["count", "value"]),
                        **{m: interval(*self._overall.loc[m, ["value", "low", "high"]]) for m in RATE_METRICS}},
            "slices": [{"slice": str(name), "count": int(row["count"]), "small": bool(row["small"]),
                        **{m: interval(row[m], row[f"{m}_low"], row[f"{m}_high"]) for m in RATE_METRICS}}
                       for name, row in self._by_group.iterrows()],
            **{f"{kind}s": {m: {method: interval(*self._compare[kind, method, m]) for method in get_args(Method)}
                            for m in RATE_METRICS} for kind in ("difference", "ratio")},
            "fairness": {name: interval(*self._fairness.loc[name, ["value", "low", "high"]]) for name in FAIRNESS},
        }

    def __repr__(self) -> str:
        return (f"SliceReport(by={self.sensitive_feature!r}, slices={len(self._by_group)}, "
                f"rows={int(self._overall.loc['count', 'value'])}, positive={self.positive!r}, n_boot={self.n_boot})")


def slice_report(source: str | pd.DataFrame, *, by: str | Sequence[str], split: str = "test",
                 keywords: str | Path | Mapping[str, Sequence[str]] | None = None, metric: str = "accuracy",
                 positive: str | None = None, n_boot: int = 1000, min_size: int = 30,
                 random_state: int = 0) -> SliceReport:
    """The slice report of a run's predictions on `split` (a run id), or of a predictions table.

    `by` names the slices (see `ftlab.slices.sensitive_features`): a column, two columns (their intersection),
    "keywords" (groups from `keywords`, default the shipped keyword_groups.yaml), "length" or "confidence".
    """
    table = _predictions(source, split) if isinstance(source, str) else source
    check_table(table)
    for column in ("gold", "predicted"):
        if column not in table.columns:
            raise UserError(f"A slice report needs the table's '{column}' column, which it lacks. Use a predictions "
                            "table from ftlab.evaluate.predictions(run_id).")
    slices = sensitive_features(table, by, keywords=keywords)
    labels = [str(c)[len("prob_"):] for c in table.columns if str(c).startswith("prob_")] or None
    return SliceReport(y_true=table["gold"], y_pred=table["predicted"], sensitive_features=slices, labels=labels,
                       positive=positive, metric=metric, n_boot=n_boot, min_size=min_size, random_state=random_state)


def _predictions(run_id: str, split: str) -> pd.DataFrame:
    # Imported here: the report itself needs neither torch nor transformers.
    from ftlab.evaluate import load_trained, predictions, predictions_path
    from ftlab.runs import read_state

    read_state(run_id)
    if not predictions_path(run_id, split).is_file():
        load_trained(run_id)  # "Run 'x' has no trained model yet (...)" before any complaint about its folder
    return predictions(run_id, split)[0]


def _as_slices(features: pd.Series | Sequence[Any], *lengths: int) -> pd.Series:
    series = features if isinstance(features, pd.Series) else pd.Series(list(features), name="slice")
    if len(series) == 0 or 0 in lengths:
        raise UserError("The predictions table has no rows: there is nothing to slice. Evaluate the run on a split "
                        "or a file that has examples.")
    if len(set(lengths)) != 1 or len(series) != lengths[0]:
        raise UserError(f"y_true, y_pred and sensitive_features must have one value per example; got "
                        f"{', '.join(map(str, lengths))} and {len(series)}.")
    if not isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(str).astype("category")
    return series.reset_index(drop=True).rename(series.name if series.name is not None else "slice")


def _check_options(labels: list[str], positive: str | None, metric: str, n_boot: int, ci_quantiles: Sequence[float],
                   min_size: int, bootstrap: str) -> str:
    """The positive label, once every option is known to be valid (before any work, as MetricFrame does)."""
    positive = default_positive(labels) if positive is None else str(positive)
    if positive not in labels:
        raise UserError(f"The positive label '{positive}' is not among the labels {labels}. "
                        f"Example: positive='{default_positive(labels)}'.")
    if metric not in RATE_METRICS:
        raise UserError(f"Unknown metric '{metric}'. Use one of: {', '.join(RATE_METRICS)}.")
    if not isinstance(n_boot, numbers.Integral) or isinstance(n_boot, bool) or n_boot < 0:
        raise UserError(f"n_boot must be a whole number of resamples, 0 or more (0: no intervals), got {n_boot!r}. "
                        "Example: n_boot=1000.")
    quantiles = list(ci_quantiles)
    if len(quantiles) != 2 or not all(isinstance(q, numbers.Real) and 0 < q < 1 for q in quantiles) \
            or quantiles[0] >= quantiles[1]:
        raise UserError(f"ci_quantiles must be two numbers low < high between 0 and 1, got {quantiles!r}. "
                        "Example: ci_quantiles=(0.025, 0.975) for a 95% interval.")
    if not isinstance(min_size, numbers.Integral) or isinstance(min_size, bool) or min_size < 1:
        raise UserError(f"min_size must be a whole number of examples, at least 1, got {min_size!r}. "
                        "Example: min_size=30.")
    if bootstrap not in get_args(Bootstrap):
        raise UserError(f"Unknown bootstrap '{bootstrap}'. Use one of: {', '.join(get_args(Bootstrap))}.")
    return positive


def _by_group_table(values: pd.DataFrame, low: pd.DataFrame, high: pd.DataFrame, min_size: int) -> pd.DataFrame:
    table = pd.DataFrame({"count": values["count"].astype(int)}, index=values.index)
    for m in RATE_METRICS:
        table[m], table[f"{m}_low"], table[f"{m}_high"] = values[m].astype(float), low[m], high[m]
    table["small"] = table["count"] < min_size
    return table


def _json(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value

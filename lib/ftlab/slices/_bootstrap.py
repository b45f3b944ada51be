"""MetricFrame's bootstrap, counted instead of re-scored: the same resampled rows, a thousand times faster.

`fairlearn.metrics.MetricFrame(n_boot=..., ci_quantiles=..., random_state=...)` draws resample i as
`data.sample(frac=1, replace=True, random_state=seeds[i])` and calls every metric on every group of it through
pandas; its per-call `np.stack` over each group's rows alone costs about 0.13 s a resample on 5,000 rows, so
n_boot=1000 with six metrics takes two to three minutes. Every metric of a slice report is a function of each
group's confusion matrix, so here the very same rows (same seeds, same `RandomState.choice`) are only counted,
and the metrics, quantiles, differences and ratios follow MetricFrame's rules: `np.nanquantile` per group (a group
absent from a resample is skipped), `np.quantile` for overall, differences and ratios. `tests/test_slices.py`
checks that both give the same intervals.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator

import numpy as np

RATE_METRICS = ("accuracy", "macro_f1", "selection_rate", "false_positive_rate", "false_negative_rate")


def seeds(n_boot: int, random_state: int | np.random.RandomState | None) -> np.ndarray:
    """One seed per resample, drawn exactly as fairlearn's `generate_bootstrap_samples` draws them."""
    high = np.iinfo(np.uint32).max
    if isinstance(random_state, np.random.RandomState):
        return random_state.randint(low=0, high=high, size=n_boot, dtype=np.uint32)
    if random_state is None or isinstance(random_state, numbers.Integral):
        seed = None if random_state is None else int(random_state)
        return np.random.default_rng(seed).integers(low=0, high=high, size=n_boot, dtype=np.uint32)
    raise ValueError(f"Unsupported random_state: {random_state!r}")


def resamples(n_rows: int, n_boot: int, random_state: int | np.random.RandomState | None) -> Iterator[np.ndarray]:
    """Row positions of each resample: what `DataFrame.sample(frac=1, replace=True, random_state=seed)` takes."""
    for seed in seeds(n_boot, random_state):
        yield np.random.RandomState(seed).choice(n_rows, size=n_rows, replace=True)


def resampled_confusion(group: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, *, n_groups: int, n_labels: int,
                        n_boot: int, random_state: int | np.random.RandomState | None) -> np.ndarray:
    """(n_boot, n_groups, n_labels, n_labels) confusion matrices [true, predicted] of every group in every resample.

    `group`, `y_true` and `y_pred` are integer codes, one per row.
    """
    cells = (group * n_labels + y_true) * n_labels + y_pred
    size = n_groups * n_labels * n_labels
    counts = np.empty((n_boot, size), dtype=np.int64)
    for i, rows in enumerate(resamples(len(cells), n_boot, random_state)):
        counts[i] = np.bincount(cells[rows], minlength=size)
    return counts.reshape(n_boot, n_groups, n_labels, n_labels)


def confusion_metrics(cm: np.ndarray, positive: int) -> np.ndarray:
    """The rate metrics (in `RATE_METRICS` order, last axis) of confusion matrices `cm[..., true, predicted]`.

    Same definitions as the report's sklearn-based metrics: macro-F1 over the labels present (in truth or
    prediction), FPR/FNR one-vs-rest for `positive`; a rate with nothing to count (e.g. FPR without negatives,
    or any metric of a group absent from a resample) is NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        total = cm.sum(axis=(-2, -1))
        true_count, predicted_count = cm.sum(axis=-1), cm.sum(axis=-2)
        hits = np.diagonal(cm, axis1=-2, axis2=-1)
        present = (true_count + predicted_count) > 0
        f1 = np.where(present, 2 * hits / np.where(present, true_count + predicted_count, 1), 0.0)
        tp = hits[..., positive]
        fn = true_count[..., positive] - tp
        fp = predicted_count[..., positive] - tp
        tn = total - tp - fn - fp
        return np.stack([
            hits.sum(axis=-1) / total,
            f1.sum(axis=-1) / present.sum(axis=-1),
            predicted_count[..., positive] / total,
            fp / (fp + tn),
            fn / (fn + tp),
        ], axis=-1)


def compare(by_group: np.ndarray, overall: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """MetricFrame's difference and ratio, both methods, per resample: by_group (B, G, M), overall (B, M) -> (B, M).

    Groups that are NaN (absent from the resample, or undefined there) are skipped, as pandas' min/max skip them.
    """
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN is the answer
        low, high = np.nanmin(by_group, axis=1), np.nanmax(by_group, axis=1)
        to_overall = by_group / overall[:, None, :]
        to_overall = np.where(to_overall > 1, 1 / to_overall, to_overall)
        return {
            ("difference", "between_groups"): high - low,
            ("difference", "to_overall"): np.nanmax(np.abs(by_group - overall[:, None, :]), axis=1),
            ("ratio", "between_groups"): low / high,
            ("ratio", "to_overall"): np.nanmin(to_overall, axis=1),
        }


def fairness_samples(cm: np.ndarray, positive: int) -> dict[str, np.ndarray]:
    """Demographic-parity and equalised-odds differences (between groups) of each resample's (B, G, K, K) matrices.

    As fairlearn computes them: selection rates and TPR/FPR per group present in the resample, where a TPR or FPR
    with nothing to count is 0 (sklearn's normalised confusion matrix), not NaN.
    """
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        total = cm.sum(axis=(-2, -1)).astype(float)
        tp = cm[..., positive, positive]
        positives = cm[..., positive, :].sum(axis=-1)
        selected = cm[..., :, positive].sum(axis=-1)
        fp = selected - tp
        negatives = total - positives
        absent = np.where(total > 0, 0.0, np.nan)  # adds NaN to the groups a resample does not contain
        selection = selected / np.where(total > 0, total, 1) + absent
        tpr = np.where(positives > 0, tp / np.where(positives > 0, positives, 1), 0.0) + absent
        fpr = np.where(negatives > 0, fp / np.where(negatives > 0, negatives, 1), 0.0) + absent

        def spread(rate: np.ndarray) -> np.ndarray:
            return np.nanmax(rate, axis=1) - np.nanmin(rate, axis=1)

        return {"demographic_parity_difference": spread(selection),
                "equalized_odds_difference": np.maximum(spread(tpr), spread(fpr))}


def quantiles(samples: np.ndarray, q: list[float], *, skip_nan: bool) -> np.ndarray:
    """Quantiles over the resample axis (0); `skip_nan` as MetricFrame's by_group intervals, else as its overall."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(samples, q, axis=0) if skip_nan else np.quantile(samples, q, axis=0)

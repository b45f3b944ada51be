"""Deterministic train/validation/test splits and stratified subsamples.

Everything draws from `numpy.random.default_rng(seed)`, so a seed gives the same rows on every machine and
numpy version that keeps PCG64. Each split keeps an `example_id` (the row's position in the frame that was
split) so a prediction can always be traced back to its source row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ftlab.errors import UserError

SPLITS = ("train", "validation", "test")
ID_COL = "example_id"
# Below this many rows per class, stratifying cannot put each class in all three splits.
_MIN_PER_CLASS = 3


def split_frame(
    df: pd.DataFrame,
    *,
    seed: int,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    group_col: str | None = None,
    stratify: str | None = "label",
) -> dict[str, pd.DataFrame]:
    """Split `df` into `SPLITS` with the given fractions of rows (of groups, with `group_col`).

    With `group_col`, every value of that column lands in exactly one split (stratification is then not
    applied). Otherwise rows are stratified by the `stratify` column when the frame has it and every class
    has at least 3 rows; else they are shuffled without stratification. Each split keeps the original row
    order, a fresh index, and `example_id` (kept when `df` already has one, so the ids of a re-split frame
    still point at the source). Raises `UserError` when the frame is too small for three non-empty splits.
    """
    _check_fractions(fractions)
    if len(df) < len(SPLITS):
        raise UserError(f"The dataset has {len(df)} rows; a train, validation and test split needs at least 3.")
    rng = np.random.default_rng(seed)
    if group_col is not None:
        parts = _group_split(df, group_col, fractions, rng)
    else:
        codes = _class_codes(df, stratify)
        sizes = _sizes(len(df), fractions, "rows")
        if codes is not None and not _can_stratify(codes, sizes):
            codes = None
        parts = _row_split(codes, sizes, rng)
    framed = df if ID_COL in df.columns else df.assign(**{ID_COL: np.arange(len(df))})
    return {name: framed.iloc[np.sort(pos)].reset_index(drop=True) for name, pos in zip(SPLITS, parts)}


def subsample(df: pd.DataFrame, n: int, *, seed: int, stratify: str | None = "label") -> pd.DataFrame:
    """`n` rows of `df` (for `--train-size N`), stratified by `stratify` when `df` has that column.

    Each class gets at least one row and the rest in proportion to its size. Deterministic for a seed; rows
    keep their original order. Returns `df` itself when `n >= len(df)`.
    """
    if n >= len(df):
        return df
    if n < 1:
        raise UserError(f"The training size must be at least 1, got {n}.")
    codes = _class_codes(df, stratify)
    if codes is not None and n < (n_classes := int(codes.max()) + 1):
        raise UserError(
            f"A training size of {n} is smaller than the number of classes ({n_classes}); use at least {n_classes} "
            "so that every class has an example."
        )
    positions = _draw(np.arange(len(df)), codes, n, np.random.default_rng(seed))
    return df.iloc[np.sort(positions)].reset_index(drop=True)


def k_shot(df: pd.DataFrame, k: int, *, seed: int, label_col: str = "label") -> pd.DataFrame:
    """`k` seeded rows of every class (a k-shot training set, for `--shots-per-class K`); rows keep their order."""
    counts = df[label_col].astype(str).value_counts()
    short = counts[counts < k]
    if len(short):
        listed = ", ".join(f"'{label}' has {count}" for label, count in short.items())
        raise UserError(f"--shots-per-class {k} is more than the training split holds for some classes ({listed}); "
                        f"use at most {int(counts.min())}.")
    rng = np.random.default_rng(seed)
    labels = df[label_col].astype(str).to_numpy()
    positions = np.concatenate([rng.choice(np.flatnonzero(labels == label), size=k, replace=False)
                                for label in sorted(counts.index)])
    return df.iloc[np.sort(positions)].reset_index(drop=True)


def _check_fractions(fractions: tuple[float, float, float]) -> None:
    if len(fractions) != len(SPLITS) or min(fractions) <= 0 or not np.isclose(sum(fractions), 1.0):
        raise UserError(
            f"Split fractions {tuple(fractions)} are invalid: give three positive numbers for train, validation "
            "and test that add up to 1, e.g. 0.8, 0.1, 0.1."
        )


def _sizes(total: int, fractions: tuple[float, float, float], unit: str) -> tuple[int, int, int]:
    """(train, validation, test) counts: validation and test rounded but never empty, train the rest."""
    validation, test = (max(1, round(total * f)) for f in fractions[1:])
    train = total - validation - test
    if train < 1:
        raise UserError(
            f"With {total} {unit}, the fractions {tuple(fractions)} leave no {unit} for training. "
            "Use a larger dataset or a larger train fraction."
        )
    return train, validation, test


def _class_codes(df: pd.DataFrame, stratify: str | None) -> np.ndarray | None:
    """Integer class per row (0..k-1), or None when there is nothing to stratify by."""
    if stratify is None or stratify not in df.columns:
        return None
    # A missing label is its own class rather than silently dropped from the draw.
    codes, _ = pd.factorize(df[stratify], use_na_sentinel=False)
    return codes


def _can_stratify(codes: np.ndarray, sizes: tuple[int, int, int]) -> bool:
    n_classes = int(codes.max()) + 1
    return int(np.bincount(codes).min()) >= _MIN_PER_CLASS and min(sizes) >= n_classes


def _row_split(codes: np.ndarray | None, sizes: tuple[int, int, int], rng: np.random.Generator) -> list[np.ndarray]:
    # Draw test first, then validation from what is left: the train split is whatever remains.
    remaining = np.arange(sum(sizes))
    test = _draw(remaining, codes, sizes[2], rng)
    remaining = np.setdiff1d(remaining, test)
    validation = _draw(remaining, codes, sizes[1], rng)
    return [np.setdiff1d(remaining, validation), validation, test]


def _group_split(
    df: pd.DataFrame, group_col: str, fractions: tuple[float, float, float], rng: np.random.Generator
) -> list[np.ndarray]:
    if group_col not in df.columns:
        columns = ", ".join(map(str, df.columns))
        raise UserError(f"No column '{group_col}' to group the split by. The columns are: {columns}.")
    # Rows with a missing group share one group, so they cannot straddle splits either.
    groups, uniques = pd.factorize(df[group_col], use_na_sentinel=False)
    if len(uniques) < len(SPLITS):
        raise UserError(
            f"The dataset has {len(uniques)} distinct values of '{group_col}'; a grouped split needs at least 3 "
            "so that train, validation and test each get one."
        )
    train, validation, _ = _sizes(len(uniques), fractions, f"values of '{group_col}'")
    order = rng.permutation(len(uniques))
    split_of_group = np.empty(len(uniques), dtype=int)
    split_of_group[order[:train]] = 0
    split_of_group[order[train : train + validation]] = 1
    split_of_group[order[train + validation :]] = 2
    split_of_row = split_of_group[groups]
    return [np.flatnonzero(split_of_row == i) for i in range(len(SPLITS))]


def _draw(positions: np.ndarray, codes: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` of `positions`, uniformly, or per class of `codes[positions]` in the amounts `_allocate` gives."""
    if codes is None:
        return rng.choice(positions, size=n, replace=False)
    classes = codes[positions]
    counts = np.bincount(classes)
    quota = _allocate(counts, n)
    return np.concatenate(
        [rng.choice(positions[classes == k], size=quota[k], replace=False) for k in range(len(counts)) if quota[k]]
    )


def _allocate(counts: np.ndarray, n: int) -> np.ndarray:
    """Split `n` across classes: one each first (so no class vanishes), the rest by largest remainder.

    Callers ensure `len(counts with rows) <= n < counts.sum()`. The extra share of a class is proportional to
    `count - 1` with `n - k < total - k`, so it never exceeds the class; classes with count 0 get nothing.
    """
    present = counts > 0
    spare = counts - present
    extra = n - int(present.sum())
    if extra <= 0:
        return present.astype(int)
    exact = extra * spare / spare.sum()
    quota = np.floor(exact).astype(int)
    # Stable sort: ties go to the lower class code, keeping the draw deterministic.
    leftover = extra - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:leftover]] += 1
    return quota + present

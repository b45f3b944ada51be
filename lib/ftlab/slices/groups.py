"""Slices of a predictions table: metadata groups and their intersections, keyword groups, length and confidence.

Each function returns one `pd.Series` of slice labels aligned with the table. Its dtype is an ordered categorical
whose categories are the display order (age bins by age, confidence buckets by confidence, "(missing)" last), so a
report can list the slices in a sensible order. `sensitive_features` builds that series from a spec such as
`by=["sex"]`, `by=["sex", "race"]` (their intersection, "Female & White"), `by=["keywords"]`, `by=["length"]` or
`by=["confidence"]`, and passes it on as MetricFrame's `sensitive_features`.

>>> table, _ = ftlab.evaluate.predictions("full-adult-demo")  # doctest: +SKIP
>>> sensitive_features(table, ["sex", "race"]).value_counts().head(2)  # doctest: +SKIP
sex & race
Male & White      2917
Female & White    1339
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ftlab.errors import UserError

KEYWORD_GROUPS_FILE = Path(__file__).resolve().parents[3] / "configs" / "slices" / "keyword_groups.yaml"
"""The shipped example: gendered terms (female_terms, male_terms) and identity terms (religion, nationality)."""
SPECIAL = ("keywords", "length", "confidence")
"""Slice names that are not columns (they win over a column of the same name): keyword groups of the text, its
length in words, the model's confidence."""
CORE_COLUMNS = ("example_id", "text", "gold", "predicted", "confidence", "correct")
"""Predictions-table columns that are not metadata (nor are the prob_<label> columns)."""
MISSING = "(missing)"
NO_KEYWORD = "(no keyword)"
KEYWORD_JOIN = " + "
"""Joins the names of all the groups an example matches: "female_terms + male_terms" is a slice of its own."""
INTERSECTION_JOIN = " & "
QUANTILE_BINS = 4
"""Numeric metadata with many values, and text length, are cut into this many quantile bins."""
MAX_NUMERIC_GROUPS = 10
"""A numeric column with more distinct values than this is binned; with fewer, each value is a slice."""
MAX_GROUPS = 50
"""A non-numeric column with more distinct values than this is refused: its slices would be too small to compare."""
CONFIDENCE_WIDTH = 0.1


def sensitive_features(table: pd.DataFrame, by: str | Sequence[str], *,
                       keywords: str | Path | Mapping[str, Sequence[str]] | None = None) -> pd.Series:
    """One slice label per row: a column's groups, `keywords`, `length` or `confidence`; several are intersected.

    `keywords` (for "keywords") is a YAML file of named groups or the mapping itself; None uses
    `KEYWORD_GROUPS_FILE`. The series is named after the spec ("sex & race") and has an ordered categorical dtype.
    Raises `UserError` for an empty table, an empty spec, an unknown column, or a slice with fewer than two groups.
    """
    check_table(table)
    names = [by] if isinstance(by, str) else list(by)
    if not names:
        raise UserError(f"Nothing to slice by: name a column or one of {', '.join(SPECIAL)}. "
                        f"Example: by=['{_example(table)}'] (--by {_example(table)}).")
    parts = [_slice(table, name, keywords) for name in names]
    series = parts[0] if len(parts) == 1 else intersect(parts)
    if series.nunique() < 2:  # e.g. a column whose quantile bins all collapse into one (mostly zeros)
        raise UserError(f"Slicing by {series.name} puts every row in one group '{series.iloc[0]}': nothing to "
                        f"compare; pick a slice with two or more groups ({_columns_hint(table)}).")
    return series


def check_table(table: Any) -> None:
    if not isinstance(table, pd.DataFrame):
        raise UserError(f"Slices need a predictions table (a pandas DataFrame), got {type(table).__name__}. "
                        "Example: table, _ = ftlab.evaluate.predictions(run_id).")
    if len(table) == 0:
        raise UserError("The predictions table has no rows: there is nothing to slice. Evaluate the run on a split "
                        "or a file that has examples.")


def _slice(table: pd.DataFrame, name: str, keywords: str | Path | Mapping[str, Sequence[str]] | None) -> pd.Series:
    if name == "keywords":
        return keyword_groups(table, load_keyword_groups(keywords))
    if name == "length":
        return length_groups(table)
    if name == "confidence":
        return confidence_groups(table)
    return metadata_groups(table, name)


def metadata_groups(table: pd.DataFrame, column: str, *, bins: int = QUANTILE_BINS) -> pd.Series:
    """A column's values as slices; numeric columns with many values are cut into `bins` quantile bins ("17–28").

    Missing values form the slice "(missing)". Raises `UserError` for an unknown, empty or single-valued column.
    """
    check_table(table)
    if column not in table.columns:
        raise UserError(f"Unknown column '{column}': {_columns_hint(table)}. Example: by=['{_example(table)}'] "
                        f"(--by {_example(table)}).")
    values = table[column]
    present = values.dropna()
    if present.empty:
        raise UserError(f"Column '{column}' is empty (every value is missing): there is nothing to compare. Pick "
                        f"another column: {_columns_hint(table)}.")
    distinct = present.unique()
    if len(distinct) == 1:
        raise UserError(f"Column '{column}' has one value '{distinct[0]}': nothing to compare; pick a column with two "
                        f"or more groups ({_columns_hint(table)}).")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and len(distinct) > MAX_NUMERIC_GROUPS:
        return quantile_bins(values, bins, name=column)
    if not numeric and len(distinct) > MAX_GROUPS:
        raise UserError(f"Column '{column}' has {len(distinct):,} distinct values: too many groups to compare "
                        f"(at most {MAX_GROUPS}). Pick a column with fewer groups: {_columns_hint(table)}.")
    order = sorted(distinct) if numeric else sorted(distinct, key=str)
    labels = values.map(_number if numeric else str, na_action="ignore")
    return _categorical(labels, [_number(v) if numeric else str(v) for v in order], column)


def quantile_bins(values: pd.Series, bins: int = QUANTILE_BINS, *, name: str, unit: str = "") -> pd.Series:
    """Equal-count bins of a numeric series, each labelled by the smallest and largest value it holds: "17–28"."""
    codes = pd.qcut(values, q=bins, labels=False, duplicates="drop")
    # The values each bin holds, not qcut's (a, b] edges: "29–37" reads better than "(28.0, 37.0]".
    spans = values.groupby(codes).agg(["min", "max"])
    names = {code: _span(low, high) + (unit.removesuffix("s") if low == high == 1 else unit)  # "1 word"
             for code, (low, high) in spans.iterrows()}
    return _categorical(codes.map(names), list(names.values()), name)


def length_groups(table: pd.DataFrame, *, bins: int = QUANTILE_BINS) -> pd.Series:
    """Text length in words (whitespace-separated), cut into `bins` quantile bins: "8–15 words"."""
    check_table(table)
    _require(table, "text", "length")
    words = pd.Series([len(str(text).split()) for text in table["text"]], index=table.index)
    if words.nunique() == 1:
        raise UserError(f"Every text has {words.iloc[0]} words: nothing to compare by length; pick another slice "
                        f"({_columns_hint(table)}).")
    return quantile_bins(words, bins, name="length", unit=" words")


def confidence_groups(table: pd.DataFrame, *, width: float = CONFIDENCE_WIDTH) -> pd.Series:
    """The model's confidence (its top probability) in buckets [0.5, 0.6), ..., [0.9, 1.0] (the last one closed).

    When every prediction falls in one bucket (an undertrained model: all within 0.52–0.58), the confidences are
    cut into quantile bins instead ("0.521–0.545"), so that confident and unsure predictions can still be compared.
    """
    check_table(table)
    _require(table, "confidence", "confidence")
    confidence = pd.to_numeric(table["confidence"], errors="coerce")
    if confidence.isna().any() or not confidence.between(0, 1).all():
        raise UserError("The 'confidence' column must hold probabilities between 0 and 1 in every row. Use a "
                        "predictions table from ftlab.evaluate.predictions(run_id).")
    steps = round(1 / width)
    # floor, with 1.0 folded into the last bucket so that it is [0.9, 1.0] rather than a bucket of its own
    index = np.minimum(np.floor(confidence.to_numpy() * steps + 1e-9).astype(int), steps - 1)
    names = {i: f"[{i / steps:.{_decimals(width)}f}, {(i + 1) / steps:.{_decimals(width)}f}"
                f"{']' if i == steps - 1 else ')'}" for i in range(steps)}
    labels = pd.Series([names[i] for i in index], index=table.index)
    if confidence.nunique() == 1:
        raise UserError(f"Every prediction has the confidence {confidence.iloc[0]:.3g}: nothing to compare; pick "
                        f"another slice ({_columns_hint(table)}).")
    if labels.nunique() == 1:
        return quantile_bins(confidence, QUANTILE_BINS, name="confidence")
    return _categorical(labels, [names[i] for i in sorted(set(index))], "confidence")


def load_keyword_groups(source: str | Path | Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Named groups of words/phrases from a YAML file (`group: [word, ...]`) or a mapping; None: the shipped file.

    Raises `UserError` naming the group and the file for an empty group, and for a file that is missing, not valid
    YAML or not a mapping of lists.
    """
    where = "the keyword groups given" if isinstance(source, Mapping) else str(source or KEYWORD_GROUPS_FILE)
    raw = source if isinstance(source, Mapping) else _read_yaml(Path(source or KEYWORD_GROUPS_FILE))
    example = "female_terms: [she, her, woman]"
    if not raw:
        raise UserError(f"{where} holds no keyword groups. Write one group per line, e.g. {example}.")
    groups: dict[str, list[str]] = {}
    for name, terms in raw.items():
        if isinstance(terms, str) or not isinstance(terms, Sequence | None):
            raise UserError(f"Keyword group '{name}' in {where} must be a list of words or phrases, got "
                            f"{terms!r}. Example: {example}.")
        cleaned = [str(term).strip() for term in terms or () if term is not None and str(term).strip()]
        if not cleaned:
            raise UserError(f"Keyword group '{name}' in {where} is empty: give it at least one word or phrase "
                            f"(e.g. {example}) or delete it.")
        groups[str(name)] = cleaned
    return groups


def _read_yaml(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        raise UserError(f"No keyword groups file at {path}. Pass a YAML file of groups, e.g. {KEYWORD_GROUPS_FILE}.")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise UserError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}. "
                        "Fix its syntax.") from None
    if values is not None and not isinstance(values, Mapping):
        raise UserError(f"{path} must map group names to lists of words, e.g. female_terms: [she, her], got a "
                        f"{type(values).__name__}.")
    return values or {}


def keyword_pattern(terms: Sequence[str]) -> re.Pattern[str]:
    """Whole words or phrases, case-insensitive; a phrase's words may be separated by any whitespace."""
    # Longest first, so that "her husband" is tried before "her" (it only matters for what is matched, not whether).
    alternatives = sorted({r"\s+".join(map(re.escape, term.split())) for term in terms}, key=len, reverse=True)
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE)


def keyword_groups(table: pd.DataFrame, groups: Mapping[str, Sequence[str]] | None = None) -> pd.Series:
    """Which keyword groups each text mentions: a group's name, "(no keyword)", or "a + b" when it matches several.

    Several matches become one slice named after all of them (in the groups' order) rather than a multi-label,
    so that the slices partition the table: every example is counted once and slices compare with the overall.
    """
    check_table(table)
    _require(table, "text", "keywords")
    groups = load_keyword_groups(groups)
    texts = table["text"].astype(str).tolist()
    patterns = [keyword_pattern(terms) for terms in groups.values()]
    hits = np.array([[pattern.search(text) is not None for pattern in patterns] for text in texts], dtype=bool)
    names = list(groups)
    labels = [KEYWORD_JOIN.join(compress(names, row)) or NO_KEYWORD for row in hits]
    if not hits.any():
        raise UserError(f"No text mentions any keyword group ({', '.join(names)}): nothing to compare. Add words "
                        "that these texts use to the groups, or slice by something else.")
    # Single groups in the groups' order, then combinations, then the texts that match nothing.
    order = sorted({tuple(row) for row in hits}, key=lambda row: (sum(row) == 0, sum(row), [not h for h in row]))
    categories = [KEYWORD_JOIN.join(compress(names, row)) or NO_KEYWORD for row in order]
    return _categorical(pd.Series(labels, index=table.index), categories, "keywords")


def intersect(parts: Sequence[pd.Series]) -> pd.Series:
    """Rows labelled by every part at once, "Female & White", ordered by the parts' own orders."""
    codes = pd.DataFrame({i: part.cat.codes.to_numpy() for i, part in enumerate(parts)}, index=parts[0].index)
    combos = codes.drop_duplicates().sort_values(list(codes.columns))
    label_of = {tuple(row): INTERSECTION_JOIN.join(str(parts[i].cat.categories[c]) for i, c in enumerate(row))
                for row in combos.itertuples(index=False)}
    labels = pd.Series([label_of[tuple(row)] for row in codes.itertuples(index=False)], index=codes.index)
    return _categorical(labels, list(label_of.values()), INTERSECTION_JOIN.join(str(p.name) for p in parts))


def _categorical(labels: pd.Series, order: list[str], name: str) -> pd.Series:
    filled = labels.astype(object).where(labels.notna(), MISSING)
    categories = [c for c in dict.fromkeys(order) if c != MISSING] + ([MISSING] if labels.isna().any() else [])
    return pd.Series(pd.Categorical(filled, categories=categories, ordered=True), index=labels.index, name=name)


def _require(table: pd.DataFrame, column: str, spec: str) -> None:
    if column not in table.columns:
        raise UserError(f"Slicing by {spec} needs the table's '{column}' column, which it lacks. Use a predictions "
                        "table from ftlab.evaluate.predictions(run_id).")


def metadata_columns(table: pd.DataFrame) -> list[str]:
    return [str(c) for c in table.columns if c not in CORE_COLUMNS and not str(c).startswith("prob_")]


def _columns_hint(table: pd.DataFrame) -> str:
    metadata = metadata_columns(table)
    listed = f"the table's metadata columns are {', '.join(metadata)}" if metadata else "the table has no metadata"
    return f"{listed}; you can also slice by gold, predicted, correct, {', '.join(SPECIAL)}"


def _example(table: pd.DataFrame) -> str:
    metadata = metadata_columns(table)
    return metadata[0] if metadata else "length"


def _number(value: Any) -> str:
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _span(low: Any, high: Any) -> str:
    return _number(low) if low == high else f"{_number(low)}–{_number(high)}"


def _decimals(width: float) -> int:
    return max(1, -int(np.floor(np.log10(width))))

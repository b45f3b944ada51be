"""Load a user's own classification table (CSV, TSV, JSON lines, Parquet) into the standard frame.

User files are loaded, never registered. Every problem becomes a `UserError` whose one paragraph names what
is wrong, where, and how to fix it: a user who brings their own data should never see a pandas traceback.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ftlab.errors import UserError

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
_RESERVED = ("text", "label", "example_id")
_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_SHOWN_ROWS = 5


def load_table(path: str | Path, text_col: str = "text", label_col: str = "label") -> pd.DataFrame:
    """Read `path` into a frame with `text` and `label` (both str) first, then every other column as metadata.

    The format follows the extension (.json is read as JSON lines, or as one array of objects). A metadata
    column whose name is taken (`text`, `label`, `example_id`) gets an `_original` suffix. Raises `UserError`
    for anything a user must fix: missing or unreadable file, wrong columns, empty, missing or blank values.
    """
    path = check_path(Path(path).expanduser())
    raw = read_raw(path, text_col, label_col)
    _check_columns(raw, path, text_col, label_col)
    frame = _standardise(raw, text_col, label_col)
    _check_values(frame, path, text_col, label_col)
    return frame.astype({"text": str, "label": str})


def check_path(path: Path) -> Path:
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a file. Pass the data file inside it, e.g. {path / 'train.csv'}.")
    if not path.exists():
        raise UserError(f"No file at {path} (relative paths start from {Path.cwd()}). Check the spelling of the path.")
    if path.suffix.lower() not in SUFFIXES:
        raise UserError(
            f"{path.name} has the unsupported extension '{path.suffix}'. Supported: {', '.join(SUFFIXES)} "
            "(.json is read as JSON lines). Export your table to CSV (UTF-8) and pass that file instead."
        )
    return path


def read_raw(path: Path, text_col: str, label_col: str) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    content = _read_utf8(path)
    if suffix in _SEPARATORS:
        return _parse_csv(content, path, _SEPARATORS[suffix], [text_col, label_col])
    return _parse_json(content, path)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UserError(f"{path} is not a readable Parquet file ({exc}). Export it again, or save it as CSV.") from None


def _read_utf8(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(
            f"{path} could not be read ({exc.strerror}). Check its permissions, or copy it somewhere readable."
        ) from None
    try:
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark that would otherwise stick to the first name.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} cannot be decoded (the file is "
            "probably Latin-1 or Windows-1252). Re-save it as UTF-8, e.g. 'CSV UTF-8' in Excel or "
            f"`iconv -f cp1252 -t utf-8 {path.name} > fixed{path.suffix}`."
        ) from None


def _parse_csv(content: str, path: Path, sep: str, str_cols: list[str]) -> pd.DataFrame:
    try:
        # Text and label stay exactly as written: no "007" -> 7, no 1 -> "1.0" once a value is missing.
        return pd.read_csv(io.StringIO(content), sep=sep, dtype=dict.fromkeys(str_cols, str))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except pd.errors.ParserError as exc:
        what = "TSV" if sep == "\t" else "CSV"
        raise UserError(
            f"{path} is not valid {what}: {_csv_problem(str(exc))}. Every row needs as many fields as the header; "
            'wrap a field that contains the separator, a quote or a line break in double quotes (" inside it '
            'becomes "").'
        ) from None


def _csv_problem(message: str) -> str:
    """pandas' parser message in our row numbering (pandas counts the header as line 1, or from row 0)."""
    if found := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message):
        expected, line, saw = map(int, found.groups())
        return f"row {line - 1} has {saw} fields but the header has {expected} (the first data row is row 1)"
    if found := re.search(r"EOF inside string starting at row (\d+)", message):
        return f"a quoted field that starts in row {found[1]} never closes (the first data row is row 1)"
    return message.removeprefix("Error tokenizing data. C error: ").strip()


def _parse_json(content: str, path: Path) -> pd.DataFrame:
    if content.lstrip().startswith("["):
        records = _decode(content, path, line_offset=0)
        places = [f"element {n}" for n in range(1, len(records) + 1)]
    else:
        numbered = [(n, line) for n, line in enumerate(content.splitlines(), start=1) if line.strip()]
        records = [_decode(line, path, line_offset=n - 1) for n, line in numbered]
        places = [f"line {n}" for n, _ in numbered]
    for record, place in zip(records, places):
        if not isinstance(record, dict):
            raise UserError(
                f"{path}: {place} is a JSON {type(record).__name__}, not an object. Each record must be an object "
                'with named fields, like {"text": "great film", "label": "pos"}.'
            )
    return pd.DataFrame.from_records(records)


def _decode(text: str, path: Path, line_offset: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path} is not valid JSON at line {line_offset + exc.lineno}, column {exc.colno}: {exc.msg}. Fix or "
            'delete that line; a JSON lines file holds one complete object per line, like {"text": "great film", '
            '"label": "pos"} (a .json file may instead hold one array of such objects).'
        ) from None


def _check_columns(raw: pd.DataFrame, path: Path, text_col: str, label_col: str) -> None:
    # An empty file has no columns either: say "no rows" rather than "no column 'text'".
    if len(raw) == 0:
        raise UserError(f"{path} has no rows. Add at least a few labelled examples (one per row) and try again.")
    if text_col == label_col:
        raise UserError(f"The text column and the label column are both '{text_col}'. Choose two different columns.")
    columns = [str(c) for c in raw.columns]
    for role, name in (("text", text_col), ("label", label_col)):
        if name not in raw.columns:
            raise UserError(
                f"{path} has no column '{name}' for the {role}s. Its columns are: {', '.join(columns)}. "
                f"Set the {role} column to one of these.{_separator_hint(columns)}"
            )


def _separator_hint(columns: list[str]) -> str:
    """A single column whose name holds a separator means the file uses another separator than its extension's."""
    if len(columns) == 1:
        for sep in (";", "|", "\t", ","):
            if sep in columns[0]:
                return (
                    f" The file seems to separate fields with {sep!r}: save it comma-separated (.csv) or "
                    "tab-separated (.tsv)."
                )
    return ""


def _as_str(value: Any) -> str:
    # A label column holding 0/1 with a gap arrives as float; "1" must not become "1.0".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _standardise(raw: pd.DataFrame, text_col: str, label_col: str) -> pd.DataFrame:
    # object dtype: a column where every value is missing arrives as float, and `.str` must still work on it.
    text = raw[text_col].map(_as_str, na_action="ignore").astype(object)
    # " pos" and "pos" would otherwise be two classes (a common leftover of "a, b" style CSV).
    label = raw[label_col].map(_as_str, na_action="ignore").astype(object).str.strip()
    metadata = raw.drop(columns=[text_col, label_col])
    taken = set(map(str, metadata.columns)) | set(_RESERVED)
    renames = {c: free_name(f"{c}_original", taken) for c in metadata.columns if c in _RESERVED}
    metadata = metadata.rename(columns=renames)
    frame = pd.concat([pd.DataFrame({"text": text, "label": label.mask(label == "")}), metadata], axis=1)
    return frame.reset_index(drop=True)


def free_name(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _check_values(frame: pd.DataFrame, path: Path, text_col: str, label_col: str) -> None:
    labels = frame["label"]
    if labels.isna().all():
        raise UserError(
            f"The label column '{label_col}' of {path} is empty in every row. Check that it is the column that "
            "holds the classes, and set the label column to the right one."
        )
    blank = frame["text"].isna() | (frame["text"].str.strip() == "")
    if blank.any():
        raise UserError(
            f"{_rows_have(blank)} a missing, empty or whitespace-only text in column '{text_col}' of {path} "
            f"({_rows(blank)}). Write the text in, or delete those rows."
        )
    if labels.isna().any():
        raise UserError(
            f"{_rows_have(labels.isna())} no label in column '{label_col}' of {path} ({_rows(labels.isna())}). "
            "Drop those rows or fill in their labels."
        )
    classes = labels.unique()
    if len(classes) < 2:
        raise UserError(
            f"The label column '{label_col}' of {path} has only one class ('{classes[0]}'); a classifier needs at "
            "least two. Add examples of the other classes, or check that this is the label column."
        )


def _rows_have(mask: pd.Series) -> str:
    n = int(mask.sum())
    return f"{n} row has" if n == 1 else f"{n} rows have"


def _rows(mask: pd.Series) -> str:
    """'rows 2, 5, 9' (1-based, counting the first data row as 1, header excluded), capped at a few."""
    numbers = [str(i + 1) for i in mask.to_numpy().nonzero()[0]]
    shown = ", ".join(numbers[:_SHOWN_ROWS]) + (", ..." if len(numbers) > _SHOWN_ROWS else "")
    return f"row{'s' if len(numbers) != 1 else ''} {shown}; the first data row is row 1"

"""Files a user uploads in the workbench: saved inside the home, then inspected before a run may use them.

An upload arrives as a name and bytes from a browser, so neither is trusted: the file is written to
`<home>/uploads/` under a name rebuilt from safe characters and a hash of its content (the same file uploaded
twice is one file; two different files with one name are two), and nothing larger than `MAX_UPLOAD_MB` is kept.
`inspect_table` then reads it the way training will (`ftlab.data.load_table`), so every mistake — not a table,
no text column chosen, one class only — is a `UserError` naming the fix before any job is queued.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ftlab.data import load_table
from ftlab.data.files import SUFFIXES, check_path, read_raw
from ftlab.errors import UserError
from ftlab.home import check_name, home, safe_child

MAX_UPLOAD_MB = 200
"""Matches `server.maxUploadSize` in .streamlit/config.toml; larger tables belong on disk (`ftlab train --data`)."""
PREVIEW_ROWS = 5


@dataclass(frozen=True)
class TablePreview:
    """A user's table as training will read it: its size and how its labels are spread."""

    rows: int
    label_counts: pd.DataFrame
    """One row per class: `label`, `examples`, `share` (of all rows), most frequent first."""


def uploads_dir() -> Path:
    path = home() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_upload_name(filename: str, data: bytes) -> str:
    """`<clean stem>-<content hash><suffix>`: only letters, digits, '.', '_', '-', so it cannot leave the folder."""
    # A browser may send a full path (old IE) or a crafted one; keep the last part, for either separator.
    base = re.split(r"[\\/]", filename)[-1]
    suffix = Path(base).suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(
            f"'{base}' is not a table this workbench reads: the extension must be one of {', '.join(SUFFIXES)}. "
            "Export the data as CSV (UTF-8) or JSON lines and upload that file."
        )
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(base).stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip("._-")[:80] or "upload"
    digest = hashlib.sha256(data).hexdigest()[:12]
    return check_name(f"{stem}-{digest}{suffix}", "upload file name")


def save_upload(filename: str, data: bytes, *, max_mb: float = MAX_UPLOAD_MB) -> Path:
    """Write an uploaded file to `<home>/uploads/` and return its path; refuses files over `max_mb` megabytes."""
    size_mb = len(data) / 2**20
    if size_mb > max_mb:
        raise UserError(
            f"'{filename}' is {size_mb:.0f} MB; uploads are limited to {max_mb:g} MB. Upload a sample of the table, "
            "or train from the command line on the file where it is: `ftlab train --data PATH`."
        )
    path = safe_child(uploads_dir(), safe_upload_name(filename, data), "upload file name")
    if not path.is_file():  # same name means same content: a rerun of the page need not write it again
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def table_columns(path: str | Path) -> tuple[list[str], pd.DataFrame]:
    """The column names of a table file and its first rows as written, for choosing the text and label columns.

    Raises `UserError` when the file is not a readable table (wrong format, broken CSV or JSON, not UTF-8, empty).
    """
    path = check_path(Path(path))
    raw = read_raw(path, "", "")
    if raw.shape[1] == 0 or len(raw) == 0:
        raise UserError(f"{path.name} has no rows. Upload a table with a header line and at least a few labelled "
                        "examples, one per row.")
    return [str(c) for c in raw.columns], raw.head(PREVIEW_ROWS)


def inspect_table(path: str | Path, text_col: str | None, label_col: str | None) -> TablePreview:
    """Load the table as training would and count its labels; a table training would refuse raises `UserError`."""
    path = Path(path)
    for role, chosen in (("text", text_col), ("label", label_col)):
        if not chosen:
            columns = ", ".join(table_columns(path)[0])
            raise UserError(f"No {role} column chosen. Choose the column of {path.name} that holds the {role}s "
                            f"(its columns: {columns}).")
    frame = load_table(path, text_col, label_col)  # type: ignore[arg-type]  (both checked above)
    counts = frame["label"].value_counts()
    label_counts = pd.DataFrame({"label": counts.index.astype(str), "examples": counts.to_numpy(),
                                 "share": (counts / len(frame)).round(3).to_numpy()})
    return TablePreview(rows=len(frame), label_counts=label_counts)

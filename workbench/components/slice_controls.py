"""Choosing how to slice a predictions table: metadata columns (two: their intersection), keyword groups from an
editable YAML, text length or model confidence.

The keyword groups start as the shipped `configs/slices/keyword_groups.yaml`; an edit applies to this session only
and is checked by `ftlab.slices.load_keyword_groups`, so an empty group or broken YAML gets the library's message.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from ftlab.errors import UserError
from ftlab.slices import KEYWORD_GROUPS_FILE, load_keyword_groups, sensitive_features
from ftlab.slices.groups import MAX_GROUPS, metadata_columns

from components.prediction_source import Source, load

METADATA, KEYWORDS, LENGTH, CONFIDENCE = "Metadata columns", "Keyword groups", "Text length", "Confidence"
SPECS = {KEYWORDS: "keywords", LENGTH: "length", CONFIDENCE: "confidence"}
"""Each slicing that is not a column, and its name in `ftlab.slices.sensitive_features`' `by`."""
EDITED = "the edited keyword-groups text"


@dataclass(frozen=True)
class SliceChoice:
    """How to slice: what `ftlab.slices.slice_report` takes as `by` and `keywords`."""

    by: tuple[str, ...]
    """Metadata columns (several: their intersection), or one of "keywords", "length", "confidence"."""
    keywords: str | None = None
    """The keyword groups as YAML text (for "keywords"); None otherwise."""


def slice_choice(table: pd.DataFrame, key: str) -> SliceChoice:
    """The slicing widgets; stops the page with an inline error when the choice cannot slice this table."""
    columns = metadata_columns(table)
    if st.session_state.get(f"{key}.table_columns") != columns:  # another table: start from its own defaults
        st.session_state[f"{key}.table_columns"] = columns
        st.session_state.pop(f"{key}.kind", None)
        st.session_state.pop(f"{key}.columns", None)
    kinds = [METADATA, *SPECS] if columns else list(SPECS)
    kind = st.radio("Slice by", kinds, horizontal=True, key=f"{key}.kind", index=kinds.index(_default_kind(table)))
    if kind == METADATA:
        chosen = st.multiselect("Columns (two: each combination of their values is a slice)", columns,
                                default=_comparable(table)[:1], max_selections=2, key=f"{key}.columns")
        if not chosen:
            st.info("Choose a metadata column to slice by.")
            st.stop()
        return SliceChoice(tuple(chosen))
    if kind != KEYWORDS:
        return SliceChoice((SPECS[kind],))
    text = st.text_area("Keyword groups (YAML: one group per line, `name: [word, phrase, ...]`; edits apply to this "
                        "session)", height=220, key=f"{key}.keywords",
                        value=st.session_state.get(f"{key}.keywords_edited") or KEYWORD_GROUPS_FILE.read_text("utf-8"))
    st.session_state[f"{key}.keywords_edited"] = text  # kept when the user visits another page and comes back
    try:
        keyword_groups(text)
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    return SliceChoice(("keywords",), text)


def keyword_groups(text: str) -> dict[str, list[str]]:
    """Keyword groups from YAML text, checked by the library (its messages call it "the edited keyword-groups text")."""
    # Through a file, so that the library's YAML checks (line and column of a syntax error) apply to the edit too.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "keyword_groups.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_keyword_groups(path)
        except UserError as exc:
            message = str(exc).replace(str(path), EDITED)
            raise UserError(message[0].upper() + message[1:]) from None


@st.cache_data(max_entries=32, show_spinner=False)
def slice_labels(source: Source, by: str) -> pd.Series:
    """One slice label per row for a metadata column or "keywords" / "length" / "confidence" (shipped keywords)."""
    return sensitive_features(load(source), [by])


def slice_names(table: pd.DataFrame) -> list[str]:
    """What `slice_labels` takes: the metadata columns with few enough values to compare, then the special slices."""
    return [*_comparable(table), *SPECS.values()]


def _comparable(table: pd.DataFrame) -> list[str]:
    """Metadata columns with 2 to MAX_GROUPS values (numeric ones are binned, so any number of values will do)."""
    def fits(column: str) -> bool:
        values = table[column].dropna()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        return values.nunique() >= 2 and (numeric or values.nunique() <= MAX_GROUPS)

    return [c for c in metadata_columns(table) if fits(c)]


def _default_kind(table: pd.DataFrame) -> str:
    return METADATA if _comparable(table) else KEYWORDS

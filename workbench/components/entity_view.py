"""Showing NER predictions: words with their entity types highlighted, gold and predicted one above the other."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from ftlab.data.tag_schemes import spans_of
from ftlab.tasks.ner import repair_iob2

PALETTE = ("#fde2e4", "#e2ece9", "#dfe7fd", "#fff1c1", "#e8dff5", "#d7f2f7", "#fbe7c6", "#e4f1d9", "#f6d5e5",
           "#dbe4ee")


def colour_of(kind: str) -> str:
    """A stable colour per entity type (the same type looks the same on every row and page)."""
    return PALETTE[sum(map(ord, kind)) % len(PALETTE)]


def highlighted(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """HTML: the words, each entity in a coloured box with its type after it."""
    starts = {span.start: span for span in spans_of(repair_iob2(list(tags)), "iob2")}
    pieces, position = [], 0
    while position < len(tokens):
        span = starts.get(position)
        if span is None:
            pieces.append(html.escape(tokens[position]))
            position += 1
            continue
        words = html.escape(" ".join(tokens[span.start:span.end]))
        pieces.append(f'<span style="background:{colour_of(span.type)};padding:1px 4px;border-radius:4px">{words} '
                      f'<sup style="font-size:0.7em;color:#555">{html.escape(span.type)}</sup></span>')
        position = span.end
    return "<div style='line-height:2'>" + " ".join(pieces) + "</div>"


def sentence_rows(table: pd.DataFrame, limit: int = 20) -> None:
    """Each sentence twice: gold entities, then predicted ones, with its error counts."""
    if table.empty:
        st.info("No sentences here.")
        return
    for row in table.head(limit).itertuples():
        st.caption(f"sentence {row.example_id} · {row.entities_found} found, {row.entities_missed} missed, "
                   f"{row.entities_wrong} wrong · confidence {row.confidence:.2f}")
        st.html("<b>gold</b> " + highlighted(list(row.tokens), list(row.gold_tags)))
        st.html("<b>predicted</b> " + highlighted(list(row.tokens), list(row.predicted_tags)))
    if len(table) > limit:
        st.caption(f"… and {len(table) - limit} more.")

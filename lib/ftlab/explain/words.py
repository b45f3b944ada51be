"""Words: the common unit that every explainer's attributions are aggregated to, so that methods can be compared.

SHAP yields sub-word pieces, LIME words, integrated gradients token ids; each maps to character spans of the text
(the tokenizer's `offset_mapping` for the first and last), and a token's score goes to the word its span falls in.
Removing words (`without`) is the one masking procedure shared by LIME's perturbations and the faithfulness scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

WORD_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
"""A word: letters/digits (with inner apostrophes: "isn't", "film's"), or one punctuation mark."""


@dataclass(frozen=True)
class Words:
    text: str
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    """(start, end) character offsets of each word in `text`."""

    def __len__(self) -> int:
        return len(self.words)

    def without(self, drop: set[int] | list[int] | np.ndarray) -> str:
        """The text with the given words removed (the rest keeps its original spacing and order)."""
        drop = set(int(i) for i in drop)
        pieces, last = [], 0
        for i, (start, end) in enumerate(self.spans):
            if i in drop:
                pieces.append(self.text[last:start].rstrip(" ") + (" " if start > 0 else ""))
                last = end
        pieces.append(self.text[last:])
        return re.sub(r"\s{2,}", " ", "".join(pieces)).strip()

    def only(self, keep: set[int] | list[int] | np.ndarray) -> str:
        """The text with only the given words kept."""
        keep = set(int(i) for i in keep)
        return self.without([i for i in range(len(self)) if i not in keep])


def split_words(text: str) -> Words:
    matches = list(WORD_RE.finditer(text))
    return Words(text, tuple(m.group() for m in matches), tuple(m.span() for m in matches))


def word_index_of_spans(words: Words, spans: list[tuple[int, int]]) -> list[int | None]:
    """For each (start, end) character span, the word it overlaps most; None for empty spans (special tokens)."""
    result: list[int | None] = []
    for start, end in spans:
        if end <= start:
            result.append(None)
            continue
        best, best_overlap = None, 0
        for i, (w_start, w_end) in enumerate(words.spans):
            overlap = min(end, w_end) - max(start, w_start)
            if overlap > best_overlap:
                best, best_overlap = i, overlap
            if w_start >= end:
                break
        result.append(best)
    return result


def to_words(words: Words, spans: list[tuple[int, int]], scores: np.ndarray) -> np.ndarray:
    """Sum token-level scores into word-level scores (tokens on no word, such as [CLS], are dropped)."""
    totals = np.zeros(len(words))
    for index, score in zip(word_index_of_spans(words, spans), scores):
        if index is not None:
            totals[index] += float(score)
    return totals

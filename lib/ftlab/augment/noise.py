"""Noise injection: character typos, word dropout and word swap, the "easy data augmentation" operations of Wei &
Zou 2019 (EDA: random deletion and random swap) and the keyboard typos of nlpaug's `KeyboardAug`.

Each touches `WORD_RATE` of a text's words (at least one), EDA's alpha of 0.1. They are a few lines each, so they
are written here rather than pulling nlpaug (and its nltk, gensim...) into the dependencies.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from ftlab.augment.registry import Augmenter, AugmenterSpec, AugmentSetup, register_augmenter

WORD_RATE = 0.1
"""Share of a text's words an augmenter changes (at least one)."""
EDITS = ("swap", "drop", "insert", "substitute")
"""The character edits of a typo: two neighbouring letters swapped, one dropped, one inserted, one replaced."""
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_WORD = re.compile(r"[^\W\d_]{2,}")
"""A word a typo may hit: two letters or more (a one-letter word would vanish when dropped)."""


def edits_for(n_words: int) -> int:
    """How many words an augmenter changes in a text of `n_words` words."""
    return max(1, round(WORD_RATE * n_words))


def _keyboard_neighbours() -> dict[str, str]:
    """Letters next to each letter on a QWERTY keyboard (rows are staggered, so up-right and down-left touch)."""
    where = {ch: (r, c) for r, row in enumerate(_KEYBOARD) for c, ch in enumerate(row)}
    near: dict[str, str] = {}
    for ch, (r, c) in where.items():
        spots = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
        near[ch] = "".join(_KEYBOARD[i][j] for i, j in spots if 0 <= i < 3 and 0 <= j < len(_KEYBOARD[i]))
    return near


NEIGHBOURS = _keyboard_neighbours()


def _near_key(ch: str, rng: random.Random) -> str:
    """A key next to `ch`, in its case; any other letter for a letter off the QWERTY rows."""
    options = NEIGHBOURS.get(ch.lower()) or "".join(sorted(set("etaoinshrdlu") - {ch.lower()}))
    new = rng.choice(options)
    return new.upper() if ch.isupper() else new


def typo(word: str, rng: random.Random) -> str:
    """`word` with one character edit (length changes by at most one); always different from `word`."""
    edit = rng.choice(EDITS)
    if edit == "swap":
        spots = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
        if spots:
            i = rng.choice(spots)
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        edit = "substitute"  # e.g. "aa": nothing to swap
    i = rng.randrange(len(word))
    if edit == "drop":
        return word[:i] + word[i + 1:]
    if edit == "insert":  # a key next to the letter it follows, as a finger slips
        return word[:i + 1] + _near_key(word[i], rng) + word[i + 1:]
    return word[:i] + _near_key(word[i], rng) + word[i + 1:]


def typos(texts: list[str], rng: random.Random) -> list[str]:
    """One typo in each of `edits_for(words)` words of each text; everything else (spacing, punctuation) kept."""
    out = []
    for text in texts:
        spans = [m.span() for m in _WORD.finditer(text)]
        hit = sorted(rng.sample(spans, min(len(spans), edits_for(len(text.split())))))
        for start, end in reversed(hit):  # right to left, so the earlier spans stay valid
            text = text[:start] + typo(text[start:end], rng) + text[end:]
        out.append(text)
    return out


def word_dropout(texts: list[str], rng: random.Random) -> list[str]:
    """Each text without `edits_for(words)` of its words (never all of them); words are split on whitespace."""
    out = []
    for text in texts:
        words = text.split()
        n = min(edits_for(len(words)), len(words) - 1)
        dropped = set(rng.sample(range(len(words)), n)) if n > 0 else set()
        out.append(" ".join(w for i, w in enumerate(words) if i not in dropped) if dropped else text)
    return out


def word_swap(texts: list[str], rng: random.Random) -> list[str]:
    """Each text with `edits_for(words)` swaps of two of its words (two different words, where there are)."""
    out = []
    for text in texts:
        words = text.split()
        if len(set(words)) < 2:
            out.append(text)
            continue
        for _ in range(edits_for(len(words))):
            i = rng.randrange(len(words))
            j = rng.choice([k for k in range(len(words)) if words[k] != words[i]])
            words[i], words[j] = words[j], words[i]
        out.append(" ".join(words))
    return out


def _plain(fn: Augmenter) -> Callable[[AugmentSetup], Augmenter]:
    """A builder for an augmenter that needs nothing from the run."""
    return lambda setup: fn


TYPOS = register_augmenter(AugmenterSpec(
    name="typos", build=_plain(typos),
    description="Character typos: in 10% of the words (at least one), two letters swapped, one dropped, or a "
                "neighbouring key inserted or typed instead."))
WORD_DROPOUT = register_augmenter(AugmenterSpec(
    name="word-dropout", build=_plain(word_dropout),
    description="Word dropout: 10% of the words (at least one, never all) removed."))
WORD_SWAP = register_augmenter(AugmenterSpec(
    name="word-swap", build=_plain(word_swap),
    description="Word swap: two words trade places, once per 10 words (at least once)."))

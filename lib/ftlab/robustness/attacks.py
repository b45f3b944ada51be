"""Robustness to noisy input: seeded, offline text attacks, and a finished run's accuracy on clean vs attacked
texts (`ftlab robustness RUN`).

- `typo`: in a share of the words (2+ letters), one character typo: two adjacent letters swapped, one dropped,
  a neighbouring key on a QWERTY keyboard inserted or typed instead (`ftlab.augment`'s `typo`).
- `words`: a share of the words (tokens with 2+ letters) dropped, duplicated, or swapped with the next token.
- `synonyms`: a share of the words replaced by a Roget synonym (`ftlab.augment`'s offline thesaurus); words
  without one stay.

The share is `rate` of a text's whitespace-separated words, at least one. The attacks do not look at the model
(black-box noise, not a worst case): they measure how much a model's answers hang on exact spellings, words and
word order. The edits are `ftlab.augment`'s; added here are the rate (augmentation edits a fixed 10%) and the
drop / duplicate / swap mix.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from ftlab.augment.noise import typo
from ftlab.augment.synonyms import match_case, roget_synonyms
from ftlab.errors import UserError, did_you_mean

DEFAULT_RATE = 0.15
"""Share of a text's words that an attack edits (at least one word per text)."""
_TYPO_WORD = re.compile(r"[^\W\d_]{2,}")
"""A word a typo can hit: two or more letters (numbers and punctuation stay as they are)."""
_WHOLE_WORD = re.compile(r"(?<![\w'])[A-Za-z]+(?![\w'])")
"""A whole word of letters for a synonym: not part of a contraction ("don't") or of a word with digits."""


def _picked(eligible: int, n_words: int, rate: float, rng: random.Random) -> set[int]:
    """Which of the `eligible` positions to edit: `rate` of the text's `n_words` words, at least one, at most all
    eligible ones, drawn without replacement."""
    return set(rng.sample(range(eligible), min(eligible, max(1, round(rate * n_words))))) if eligible else set()


def _replace(text: str, words: list[re.Match], rate: float, rng: random.Random,
             new_word: Callable[[str], str]) -> str:
    """`text` with `rate` of its words replaced, chosen among `words` (matches in `text`); the rest kept."""
    hit = _picked(len(words), len(text.split()), rate, rng)
    pieces, last = [], 0
    for n, match in enumerate(words):
        pieces += [text[last:match.start()], new_word(match.group()) if n in hit else match.group()]
        last = match.end()
    return "".join(pieces) + text[last:]


def typo_attack(text: str, rate: float, rng: random.Random) -> str:
    """`text` with a typo in `rate` of its words; spacing and punctuation kept."""
    return _replace(text, list(_TYPO_WORD.finditer(text)), rate, rng, lambda word: typo(word, rng))


def synonym_attack(text: str, rate: float, rng: random.Random) -> str:
    """`text` with `rate` of its words (among those the thesaurus knows) replaced by a synonym, in their case."""
    table = roget_synonyms()
    known = [m for m in _WHOLE_WORD.finditer(text) if m.group().lower() in table]
    return _replace(text, known, rate, rng, lambda word: match_case(word, rng.choice(table[word.lower()])))


def word_attack(text: str, rate: float, rng: random.Random) -> str:
    """`text` with `rate` of its words dropped, duplicated or swapped with the next one (whitespace normalised)."""
    words = text.split()
    eligible = [n for n, word in enumerate(words) if _TYPO_WORD.search(word)]  # not a lone comma
    hit = {eligible[n] for n in _picked(len(eligible), len(words), rate, rng)}
    out: list[str] = []
    n = 0
    while n < len(words):
        kind = rng.choice(("drop", "duplicate", "swap")) if n in hit else "keep"
        if kind == "swap" and n + 1 < len(words):
            out += [words[n + 1], words[n]]
            n += 2
            continue
        out += {"drop": [], "duplicate": [words[n]] * 2}.get(kind, [words[n]])
        n += 1
    return " ".join(out) if out else text


ATTACKS: dict[str, Callable[[str, float, random.Random], str]] = {"typo": typo_attack, "words": word_attack,
                                                                   "synonyms": synonym_attack}


def check_attack(attack: str, rate: float) -> None:
    if attack not in ATTACKS:
        raise UserError(f"{did_you_mean(attack, ATTACKS, 'attack')} Example: --attack typo.")
    if not 0 < rate <= 1:
        raise UserError(f"--rate is the share of words an attack edits, between 0 (excluded) and 1; got {rate}. "
                        f"Example: --rate {DEFAULT_RATE}.")


def attack_texts(texts: list[str], attack: str = "typo", *, rate: float = DEFAULT_RATE, seed: int = 0) -> list[str]:
    """Every text attacked; the same texts, attack, rate and seed give the same result."""
    check_attack(attack, rate)
    rng = random.Random(seed)
    return [ATTACKS[attack](str(text), rate, rng) for text in texts]


def robust_accuracy(run_id: str, split: str = "test", *, attack: str = "typo", rate: float = DEFAULT_RATE,
                    seed: int = 0, size: int | None = None, examples: int = 5) -> dict[str, Any]:
    """A finished classification run's accuracy on a split's texts, clean and attacked.

    `flipped` is the share of texts whose predicted label the attack changed (right or wrong before); `size`
    scores a seeded, stratified sample of the split; `examples` pairs of texts whose prediction flipped (or,
    when none did, the first pairs) come back for people to read.
    """
    from ftlab.data import subsample
    from ftlab.evaluate import load_trained, read_split, score_frame
    from ftlab.runs import read_state, require_classification

    check_attack(attack, rate)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
        raise UserError(f"--size must be a whole number of 2 or more examples, got {size!r}. Example: --size 500.")
    read_state(run_id)
    require_classification(run_id, "`ftlab robustness`")
    frame = read_split(run_id, split)
    if size is not None:
        frame = subsample(frame, size, seed=seed)
    model, tokenizer, config, labels, task = load_trained(run_id)
    attacked = frame.assign(text=attack_texts(frame["text"].tolist(), attack, rate=rate, seed=seed))
    clean_table, _ = score_frame(task, model, tokenizer, frame, config, labels)
    attacked_table, _ = score_frame(task, model, tokenizer, attacked, config, labels)
    flipped = clean_table["predicted"].to_numpy() != attacked_table["predicted"].to_numpy()
    shown = [i for i in range(len(frame)) if flipped[i]][:examples] or list(range(min(examples, len(frame))))
    clean, hit = float(clean_table["correct"].mean()), float(attacked_table["correct"].mean())
    return {
        "run_id": run_id, "split": split, "attack": attack, "rate": rate, "seed": seed, "examples": len(frame),
        "clean_accuracy": clean, "attacked_accuracy": hit, "accuracy_drop": clean - hit,
        "flipped": float(flipped.mean()),
        "changed_texts": float((frame["text"].astype(str).to_numpy() != attacked["text"].to_numpy()).mean()),
        "samples": [{"text": str(frame["text"].iloc[i]), "attacked": str(attacked["text"].iloc[i]),
                     "gold": str(clean_table["gold"].iloc[i]),
                     "clean_prediction": str(clean_table["predicted"].iloc[i]),
                     "attacked_prediction": str(attacked_table["predicted"].iloc[i])} for i in shown],
    }

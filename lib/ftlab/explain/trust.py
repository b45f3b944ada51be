"""Trust scores shown beside every explanation: do the methods agree, and is each one faithful to the model?

- **Agreement** (per pair of methods): Spearman rank correlation of the word attributions, and top-k overlap.
- **Faithfulness** (per method, ERASER, DeYoung et al. 2020): comprehensiveness = p(target | text) − p(target | text
  without the method's top-k words), higher is better; sufficiency = p(target | text) − p(target | only the top-k
  words), lower is better. Each is set beside the same score for k random words, so "0.2" can be read as "better or
  worse than chance".
- **Additivity** (for methods with a base value, SHAP): attributions + base value should equal f(x)[target].

Every perturbed text is built by `Words.without` / `Words.only`, the one masking procedure shared by all methods,
and all texts of one call go to the model in one batch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping

import numpy as np
from scipy.stats import spearmanr

from ftlab.errors import UserError
from ftlab.explain.words import Words

Predict = Callable[[list[str]], np.ndarray]
"""Texts in, class probabilities out, shape (len(texts), n_classes): a `ClassifierFn` or anything like it."""

DIRECTIONS = {
    "spearman": "higher is better (1: same ranking, -1: reversed)",
    "top_k_overlap": "higher is better (share of top-k words in common)",
    "comprehensiveness": "higher is better (probability lost when the top-k words are removed)",
    "sufficiency": "lower is better (probability lost when only the top-k words are kept)",
    "additivity": "gap = f(x)[target] - (sum of attributions + base value); ok when |gap| <= tolerance",
}
"""How to read each score; shipped inside every result so a page or a JSON reader need not guess."""


def top_k(attributions: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k words pushing hardest toward the target class (largest signed attribution).

    Signed, not |attribution|: removing a word that argues *against* the target should not count as removing
    evidence for it. Ties go to the earlier word (stable sort), so equal attributions give equal top-k sets.
    """
    return np.argsort(-np.asarray(attributions, dtype=np.float64), kind="stable")[:k]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two methods' signed word attributions.

    Signed, because two methods that rank the same words high but disagree on their direction do disagree. A
    constant vector (one word, or a method that gave every word zero) has no ranking: 1.0 when both vectors are
    equal, else 0.0, instead of scipy's NaN, so the result stays valid JSON.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.allclose(a, b):
        return 1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    value = float(spearmanr(a, b).statistic)
    return 0.0 if math.isnan(value) else value


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """|top-k of a ∩ top-k of b| / k."""
    return len(set(top_k(a, k).tolist()) & set(top_k(b, k).tolist())) / k


def additivity(attributions: np.ndarray, base_value: float, probability: float, tolerance: float) -> dict:
    """SHAP's local accuracy: the attributions and the base value add up to the model's output."""
    gap = float(probability - (float(np.sum(attributions)) + float(base_value)))
    return {"gap": gap, "ok": bool(abs(gap) <= tolerance), "tolerance": float(tolerance)}


def _checked(words: Words, attributions: Mapping[str, np.ndarray], k: int, random_draws: int) -> int:
    """Validate the inputs; return k capped at the number of words."""
    if len(words) == 0:
        raise UserError("Nothing to score: the text has no words. Give a non-empty text, e.g. 'A warm, funny film.'")
    if not attributions:
        raise UserError("No attributions to score: pass at least one method, e.g. {'shap': values}.")
    if k < 1:
        raise UserError(f"k must be at least 1 (got {k}); the issue's default is k=3.")
    if random_draws < 1:
        raise UserError(f"random_draws must be at least 1 (got {random_draws}).")
    for name, values in attributions.items():
        if np.shape(values) != (len(words),):
            raise UserError(f"Attributions of '{name}' have shape {np.shape(values)}, the text has {len(words)} "
                            "words: aggregate them to words first (ftlab.explain.words.to_words).")
    return min(k, len(words))


def _random_sets(n_words: int, k: int, draws: int, seed: int) -> list[np.ndarray]:
    """The random k-word sets every method is compared with (the same sets for all methods, fixed by the seed)."""
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(n_words, size=k, replace=False)) for _ in range(draws)]


def trust_scores(predict: Predict, words: Words, attributions: Mapping[str, np.ndarray], target: int, *,
                 k: int = 3, base_value: float | Mapping[str, float] | None = None, tolerance: float = 0.01,
                 random_draws: int = 5, seed: int = 0, outputs: Mapping[str, float] | None = None) -> dict:
    """Agreement, faithfulness and additivity scores for one text's explanations, as plain JSON-ready values.

    Parameters
    ----------
    predict : texts -> probabilities, e.g. `ClassifierFn.from_run(run_id)`; called once, with every perturbed text.
    words : the text split into words; each method's attributions are per word, in this order.
    attributions : method name -> word attributions toward `target`.
    target : index of the explained class.
    k : how many words count as a method's top words; capped at the number of words.
    base_value : SHAP's expected value; a number applies to the method named "shap", a mapping to the methods named.
    tolerance : the largest |gap| at which additivity passes, in probability units.
    random_draws, seed : how many random k-word sets the faithfulness scores are compared with, and their seed.
    outputs : per method, f(x)[target] of the model it explained where that is not `predict` (a fast copy of it,
        `ftlab.explain.fast`): additivity is that model's property, so it is checked against that output.

    Examples
    --------
    >>> words = split_words("a warm , funny film")                             # doctest: +SKIP
    >>> trust_scores(ClassifierFn.from_run("run-1"), words, {"shap": s, "lime": l}, target=1)  # doctest: +SKIP
    {'k': 3, 'probability': 0.93, 'agreement': {'shap~lime': {...}}, 'faithfulness': {...}, 'additivity': {...}}
    """
    k = _checked(words, attributions, k, random_draws)
    names = list(attributions)
    tops = {name: top_k(attributions[name], k) for name in names}
    randoms = _random_sets(len(words), k, random_draws, seed)

    # One batch: the text, then per method (without top-k, only top-k), then per random set (without, only).
    texts = [words.text]
    for indices in [*tops.values(), *randoms]:
        texts += [words.without(indices), words.only(indices)]
    probabilities = np.asarray(predict(texts), dtype=np.float64)[:, target]
    full = float(probabilities[0])
    drops = full - probabilities[1:].reshape(-1, 2)  # rows: methods then random sets; columns: without, only
    random_comprehensiveness = float(drops[len(names):, 0].mean())
    random_sufficiency = float(drops[len(names):, 1].mean())

    faithfulness = {
        name: {
            "comprehensiveness": float(drops[i, 0]),
            "sufficiency": float(drops[i, 1]),
            "random_comprehensiveness": random_comprehensiveness,
            "random_sufficiency": random_sufficiency,
            "top_k_words": [words.words[j] for j in tops[name]],
        }
        for i, name in enumerate(names)
    }
    agreement = {
        f"{a}~{b}": {"spearman": rank_correlation(attributions[a], attributions[b]),
                     "top_k_overlap": top_k_overlap(attributions[a], attributions[b], k)}
        for a, b in itertools.combinations(names, 2)
    }
    bases = _base_values(base_value, names)
    return {
        "k": k,
        "target": int(target),
        "probability": full,
        "agreement": agreement,
        "faithfulness": faithfulness,
        "additivity": {name: additivity(attributions[name], base, (outputs or {}).get(name, full), tolerance)
                       for name, base in bases.items()},
        "random_draws": random_draws,
        "directions": DIRECTIONS,
    }


def _base_values(base_value: float | Mapping[str, float] | None, names: list[str]) -> dict[str, float]:
    """Which methods get an additivity check: a bare number is SHAP's base value."""
    if base_value is None:
        return {}
    if isinstance(base_value, Mapping):
        unknown = sorted(set(base_value) - set(names))
        if unknown:
            raise UserError(f"base_value names methods without attributions: {', '.join(unknown)}. "
                            f"Methods given: {', '.join(names)}.")
        return {name: float(value) for name, value in base_value.items()}
    if "shap" not in names:
        raise UserError("A bare base_value is SHAP's, but no 'shap' attributions were given: "
                        "pass base_value={'method': value} instead.")
    return {"shap": float(base_value)}

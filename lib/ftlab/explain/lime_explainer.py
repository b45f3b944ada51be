"""LIME: the `lime` library's `LimeTextExplainer`, with our words as its features.

LIME's `IndexedString` takes a callable that returns the tokens; given `split_words`, its features are exactly our
words in order (with `bow=False` each occurrence is its own feature, so feature id i is word i). A perturbation
replaces dropped words with an empty string, which the tokenizer reads the same as removing them (`Words.without`).
"""

from __future__ import annotations

import re

import numpy as np

from ftlab.explain.model_fn import ClassifierFn
from ftlab.explain.words import Words, split_words


def _word_list(text: str) -> list[str]:
    return list(split_words(text).words)


def explain_lime(fn: ClassifierFn, words: Words, target: int, *, num_samples: int = 1000,
                 seed: int = 0) -> np.ndarray:
    """Per-word weights of LIME's local linear model for the target class."""
    from lime.lime_text import LimeTextExplainer

    explainer = LimeTextExplainer(class_names=fn.labels, split_expression=_word_list, bow=False, mask_string="",
                                  random_state=seed)

    def classify(texts: list[str]) -> np.ndarray:
        # Collapse the gaps dropped words leave, so that equal perturbations deduplicate inside ClassifierFn.
        return fn([re.sub(r"\s+", " ", t).strip() for t in texts])

    explanation = explainer.explain_instance(words.text, classify, labels=(target,), num_features=len(words),
                                             num_samples=num_samples)
    weights = np.zeros(len(words))
    for feature, weight in explanation.as_map()[target]:
        weights[feature] = weight
    return weights

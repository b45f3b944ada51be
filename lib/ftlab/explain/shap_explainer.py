"""SHAP: the `shap` library's Partition explainer over the model's own tokenizer (a `Text` masker).

The explained function is `ClassifierFn`, so SHAP values are in probability units (not logits): the word-level
values of a class plus `base_value` add up to that class's predicted probability. The masker splits the text into
the tokenizer's sub-word pieces (special tokens are empty strings); the tokenizer's `offset_mapping` gives each
piece's character span, through which the pieces' values are summed into words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftlab.explain.model_fn import ClassifierFn
from ftlab.explain.words import Words, to_words


@dataclass(frozen=True)
class ShapResult:
    attributions: np.ndarray
    """Per word, for the target class."""
    base_value: float
    """The target's probability with every word masked (special tokens kept, their share folded in);
    attributions.sum() + base_value == f(text)[target]."""


def token_spans(tokenizer, text: str) -> list[tuple[int, int]]:
    """Character span of every token the Text masker makes of `text` (it tokenizes the same way, untruncated)."""
    offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    return [(0, 0) if o is None else (int(o[0]), int(o[1])) for o in offsets]


def explain_shap(fn: ClassifierFn, words: Words, target: int, *, max_evals: int = 300,
                 batch_size: int = 64, seed: int = 0) -> ShapResult:
    import shap

    masker = shap.maskers.Text(fn.tokenizer)
    explainer = shap.Explainer(fn, masker, output_names=fn.labels, seed=seed)
    # Partition needs at least 2 * (pieces + 1) evaluations to split every piece once; fewer would stop early.
    spans = token_spans(fn.tokenizer, words.text)
    values = explainer([words.text], max_evals=max(max_evals, 2 * len(spans) + 2), batch_size=batch_size,
                       silent=True)
    token_values = np.asarray(values.values[0])[:, target]
    if len(spans) != len(token_values):  # the masker saw other tokens than we did: refuse to misattribute
        raise RuntimeError(f"SHAP returned {len(token_values)} pieces for {len(spans)} tokens of {words.text!r}")
    # [CLS]/[SEP] belong to no word and the masker never removes them: their small share is part of the baseline,
    # so that word values + base_value still add up to f(text) exactly.
    special = np.array([end <= start for start, end in spans])
    base_value = float(np.asarray(values.base_values[0])[target]) + float(token_values[special].sum())
    return ShapResult(to_words(words, spans, token_values), base_value)

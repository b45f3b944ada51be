"""Explanations of a trained classifier's predictions: SHAP, LIME and integrated gradients, per word.

>>> from ftlab.explain import explain
>>> [e] = explain("lora-rt-demo", "A warm, funny film.", ("shap", "ig"))  # doctest: +SKIP
>>> e.top("shap"), e.base_value["shap"], e.ig_delta  # doctest: +SKIP
"""

from __future__ import annotations

from ftlab.explain.api import EXPLAINERS, ExplainSettings, Explanation, explain
from ftlab.explain.ig import IGResult, explain_ig
from ftlab.explain.lime_explainer import explain_lime
from ftlab.explain.model_fn import ClassifierFn
from ftlab.explain.shap_explainer import ShapResult, explain_shap
from ftlab.explain.words import WORD_RE, Words, split_words, to_words

__all__ = ["EXPLAINERS", "ClassifierFn", "ExplainSettings", "Explanation", "IGResult", "ShapResult", "WORD_RE",
           "Words", "explain", "explain_ig", "explain_lime", "explain_shap", "split_words", "to_words"]

"""Showing explanations: words coloured by attribution (one column per method), trust scores, the global view."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from ftlab.explain import Explanation

METHOD_TITLES = {"shap": "SHAP (Partition)", "lime": "LIME", "ig": "Integrated gradients"}


def coloured_words(words: list[str], scores: list[float]) -> str:
    """HTML: each word on a background from blue (against the class) to red (for it), scaled to the largest |score|."""
    peak = max((abs(s) for s in scores), default=0.0) or 1.0
    spans = []
    for word, score in zip(words, scores):
        alpha = min(1.0, abs(score) / peak) * 0.85
        colour = f"rgba(214, 39, 40, {alpha:.2f})" if score > 0 else f"rgba(31, 119, 180, {alpha:.2f})"
        spans.append(f'<span title="{score:+.4f}" style="background:{colour};padding:1px 3px;margin:1px;'
                     f'border-radius:3px;display:inline-block">{html.escape(word)}</span>')
    return "<div style='line-height:2'>" + " ".join(spans) + "</div>"


def side_by_side(explanation: Explanation) -> None:
    methods = list(explanation.attributions)
    for column, method in zip(st.columns(len(methods)), methods):
        with column:
            st.markdown(f"**{METHOD_TITLES.get(method, method)}**")
            st.html(coloured_words(explanation.words, explanation.attributions[method]))
            top = ", ".join(f"{word} ({score:+.3f})" for word, score in explanation.top(method, 3))
            st.caption(f"top 3: {top}")
            if method == "shap" and "shap" in explanation.base_value:
                st.caption(f"base value {explanation.base_value['shap']:.3f} + word values = "
                           f"{explanation.base_value['shap'] + sum(explanation.attributions['shap']):.3f}")
            if method == "ig" and explanation.ig_delta is not None:
                st.caption(f"convergence delta {explanation.ig_delta:.2e}")
            if method in explanation.copy_probability:
                st.caption(f"explained by the model's {explanation.precision[method]} copy: its probability of "
                           f"{explanation.target} is {explanation.copy_probability[method]:.3f}, the model's "
                           f"{explanation.prediction['probabilities'][explanation.target]:.3f}")
            if explanation.cached.get(method):
                st.caption("from the cache")


def trust_tables(trust: dict) -> None:
    """Faithfulness per method (against random words) and agreement per pair of methods."""
    if not trust:
        return
    k = trust.get("k", 3)
    faithfulness = pd.DataFrame(
        [{"method": m, f"comprehensiveness (top {k} removed)": v["comprehensiveness"],
          f"random {k} removed": v["random_comprehensiveness"], f"sufficiency (only top {k})": v["sufficiency"],
          f"only random {k}": v["random_sufficiency"]} for m, v in trust.get("faithfulness", {}).items()])
    st.markdown("**Faithfulness** — higher comprehensiveness and lower sufficiency than random words mean the "
                "method found words the model really uses.")
    st.dataframe(faithfulness, hide_index=True)
    agreement = pd.DataFrame([{"methods": pair, "Spearman": v["spearman"], f"top-{k} overlap": v["top_k_overlap"]}
                              for pair, v in trust.get("agreement", {}).items()])
    if len(agreement):
        st.markdown("**Agreement between methods** — rank correlation of word importances and shared top words.")
        st.dataframe(agreement, hide_index=True)
    for method, check in trust.get("additivity", {}).items():
        verdict = "holds" if check["ok"] else "does NOT hold"
        st.caption(f"{method} additivity {verdict}: the word values plus the base value miss f(x) by {check['gap']:+.2e}.")

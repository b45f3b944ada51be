"""Global view: over a sample of the test set, the words with the largest mean |attribution| for each class.

One explanation says why the model made one prediction; this says what it leans on overall. Any method can feed it:
an explanation is just (words, word attributions, explained class). Attribution scales differ between methods
(SHAP and IG are in probability units, LIME in its surrogate's), so compare words within one method's table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ftlab.errors import UserError
from ftlab.explain.words import Words

Explanation = tuple["Words | Sequence[str]", np.ndarray, "int | str"]
"""(the text's words, one attribution per word toward the class, the explained class)."""

ExplainFn = Callable[[list[str]], Sequence[Explanation]]
"""Texts in, one `Explanation` per text out: e.g. integrated gradients toward each text's predicted class."""

COLUMNS = ["class", "word", "mean_abs_attribution", "count"]


def aggregate(explanations: Iterable[Explanation], *, min_count: int = 1) -> pd.DataFrame:
    """Mean |attribution| of each (class, lower-cased word), over every occurrence in the explanations.

    `count` is the number of occurrences; words seen fewer than `min_count` times are left out, because a word
    met once has a mean that is one explanation's noise. Rows are sorted by class, then by importance.
    """
    if min_count < 1:
        raise UserError(f"min_count must be at least 1 (got {min_count}).")
    rows: list[tuple[str, str, float]] = []
    for words, scores, label in explanations:
        tokens = list(words.words if isinstance(words, Words) else words)
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (len(tokens),):
            raise UserError(f"An explanation has {scores.shape} attributions for {len(tokens)} words: "
                            "aggregate token scores to words first (ftlab.explain.words.to_words).")
        rows += [(str(label), word.lower(), abs(float(score))) for word, score in zip(tokens, scores)]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(COLUMNS, ["str", "str", "float", "int"])})
    frame = pd.DataFrame(rows, columns=["class", "word", "abs_attribution"])
    table = (frame.groupby(["class", "word"], sort=False)["abs_attribution"]
             .agg(mean_abs_attribution="mean", count="size").reset_index())
    table = table[table["count"] >= min_count]
    return table.sort_values(["class", "mean_abs_attribution", "word"], ascending=[True, False, True],
                             ignore_index=True)[COLUMNS]


def explainer(source: str | Any, method: str = "ig", **settings: Any) -> ExplainFn:
    """An `ExplainFn` over `ftlab.explain.explain` with one method, toward each text's predicted class.

    `source` is a run id (explanations then land in the run's cache, so a revisit is instant) or a `ClassifierFn`;
    `settings` go to `explain`, e.g. `ig_steps=8` (trust scores are per text and skipped here). Integrated gradients
    is the cheap choice for hundreds of texts.
    """
    from ftlab.explain.api import explain

    def explain_fn(texts: list[str]) -> list[Explanation]:
        return [(e.words, np.asarray(e.attributions[method]), e.target)
                for e in explain(source, texts, (method,), trust=False, **settings)]

    return explain_fn


def top_words(table: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """The n most important words of each class."""
    return table.groupby("class", sort=True, group_keys=False).head(n).reset_index(drop=True)


def figure(table: pd.DataFrame, *, n: int = 15, title: str = "Words with the largest mean |attribution|"):
    """Horizontal bars, one panel per class, the n most important words of each class, the largest on top."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    shown = top_words(table, n)
    classes = list(dict.fromkeys(shown["class"])) or ["(no words)"]
    # One panel per class rather than px facets: facets share one category axis, so every class would list
    # every other class's words as empty rows.
    fig = make_subplots(rows=1, cols=len(classes), subplot_titles=[f"class: {c}" for c in classes],
                        horizontal_spacing=0.12)
    for col, label in enumerate(classes, start=1):
        part = shown[shown["class"] == label].iloc[::-1]  # plotly draws the first bar at the bottom
        fig.add_trace(go.Bar(x=part["mean_abs_attribution"], y=part["word"], orientation="h", name=str(label),
                             customdata=part["count"],
                             hovertemplate="%{y}: %{x:.3f} (seen %{customdata} times)<extra></extra>"),
                      row=1, col=col)
        fig.update_xaxes(title_text="mean |attribution|", row=1, col=col)
    fig.update_layout(title=title, showlegend=False, height=max(300, 24 * n + 120))
    return fig


@dataclass
class GlobalView:
    """The global view of one run: the word table, how many test texts it covers, and its chart."""

    run_id: str
    table: pd.DataFrame
    coverage: int
    """Number of test texts explained (the issue asks for at least 200)."""
    texts_per_class: dict[str, int]

    def figure(self, n: int = 15):
        return figure(self.table, n=n, title=f"Run {self.run_id}: words with the largest mean |attribution| "
                                              f"over {self.coverage} test texts")

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "coverage": self.coverage, "texts_per_class": self.texts_per_class,
                "words": self.table.to_dict(orient="records")}


def sample_test_texts(run_id: str, n: int = 200, *, seed: int = 0) -> pd.DataFrame:
    """n test examples of the run (text, gold, predicted, ...), drawn with a fixed seed; all of them if fewer."""
    from ftlab.evaluate import predictions

    if n < 1:
        raise UserError(f"The global view needs at least one text (got n={n}); the issue's default is 200.")
    table, _ = predictions(run_id, "test")
    if len(table) <= n:
        return table.reset_index(drop=True)
    return table.sample(n=n, random_state=seed).reset_index(drop=True)


def global_view(run_id: str, explain_fn: ExplainFn, *, n: int = 200, seed: int = 0, min_count: int = 2,
                batch_size: int = 50, progress: Callable[[int, int], None] | None = None) -> GlobalView:
    """Explain n sampled test texts with `explain_fn` and aggregate them into the run's global view.

    Texts go to `explain_fn` in batches of `batch_size`, and `progress(done, total)` is called after each, so a page
    can show progress (and cancel by raising from the callback).
    """
    texts = sample_test_texts(run_id, n, seed=seed)["text"].astype(str).tolist()
    explanations: list[Explanation] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        result = list(explain_fn(batch))
        if len(result) != len(batch):
            raise ValueError(f"explain_fn returned {len(result)} explanations for {len(batch)} texts")
        explanations += result
        if progress is not None:
            progress(len(explanations), len(texts))
    per_class = pd.Series([str(label) for _, _, label in explanations]).value_counts().sort_index()
    return GlobalView(run_id, aggregate(explanations, min_count=min_count), len(explanations),
                      {str(k): int(v) for k, v in per_class.items()})

"""Error analysis of an NER run's predictions table (`ftlab.tasks.ner`): the per-type report, a confusion matrix
over entity types, the worst sentences, and the sentences behind a confusion cell.

The confusion matrix counts words, not entities: each word's gold entity type (or O) against its predicted one, so
a type the model confuses with another, and entities it misses (type -> O) or invents (O -> type), show as cells.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

OUTSIDE = "O"
AVERAGES = ("micro", "macro")


def type_report(metrics: dict[str, float]) -> pd.DataFrame:
    """Precision, recall, F1 and support per entity type from the run's flat metrics (seqeval's entity-level
    scores), then the micro and macro averages; types sorted by support, largest first."""
    kinds = sorted({key[:-len("_support")] for key in metrics if key.endswith("_support")})
    rows = [{"type": kind, **{name: metrics.get(f"{kind}_{name}") for name in ("precision", "recall", "f1")},
             "support": int(metrics[f"{kind}_support"])} for kind in kinds]
    report = pd.DataFrame(rows, columns=["type", "precision", "recall", "f1", "support"])
    report = report.sort_values(["support", "type"], ascending=[False, True])
    total = int(report["support"].sum())
    averages = pd.DataFrame([
        {"type": "micro avg", "precision": metrics.get("micro_precision"), "recall": metrics.get("micro_recall"),
         "f1": metrics.get("micro_f1"), "support": total},
        {"type": "macro avg", "precision": report["precision"].mean(), "recall": report["recall"].mean(),
         "f1": metrics.get("macro_f1"), "support": total},
    ])
    return pd.concat([report, averages], ignore_index=True).set_index("type")


def word_types(tags: Any) -> list[str]:
    """Each word's entity type (B-person and I-person are both "person"), O outside entities."""
    return [OUTSIDE if tag == OUTSIDE else str(tag)[2:] for tag in tags]


def type_confusion(table: pd.DataFrame) -> pd.DataFrame:
    """Words counted by gold type (rows) and predicted type (columns), O included; every type on both axes."""
    gold = [kind for tags in table["gold_tags"] for kind in word_types(tags)]
    predicted = [kind for tags in table["predicted_tags"] for kind in word_types(tags)]
    kinds = [OUTSIDE] + sorted((set(gold) | set(predicted)) - {OUTSIDE})
    counts = pd.crosstab(pd.Categorical(gold, kinds), pd.Categorical(predicted, kinds), dropna=False)
    counts.index.name, counts.columns.name = "gold", "predicted"
    return counts


def confusion_sentences(table: pd.DataFrame, gold: str, predicted: str) -> pd.DataFrame:
    """The sentences with at least one word of gold type `gold` predicted as `predicted`, most such words first."""
    def hits(row: Any) -> int:
        return sum(g == gold and p == predicted
                   for g, p in zip(word_types(row.gold_tags), word_types(row.predicted_tags)))

    counts = pd.Series([hits(row) for row in table.itertuples()], index=table.index, dtype=int)
    chosen = table.assign(words_in_cell=counts)[counts > 0]
    return chosen.sort_values(["words_in_cell", "example_id"], ascending=[False, True])


def worst_sentences(table: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The n sentences with the most entities missed or wrong, then the most wrongly tagged words, then the least
    confident."""
    errors = table["entities_missed"] + table["entities_wrong"]
    ranked = table.assign(entity_errors=errors).sort_values(
        ["entity_errors", "word_errors", "confidence"], ascending=[False, False, True])
    return ranked[ranked["entity_errors"] + ranked["word_errors"] > 0].head(n)


def type_confusion_figure(table: pd.DataFrame) -> Any:
    """Plotly heatmap of `type_confusion` on a log colour scale (O→O dwarfs every other cell)."""
    import numpy as np
    import plotly.graph_objects as go

    counts = type_confusion(table)
    figure = go.Figure(go.Heatmap(
        z=np.log10(counts.to_numpy() + 1), x=list(counts.columns), y=list(counts.index), text=counts.to_numpy(),
        texttemplate="%{text}", colorscale="Blues", showscale=False,
        hovertemplate="gold %{y}, predicted %{x}: %{text} words<extra></extra>"))
    figure.update_layout(title="Words by gold and predicted entity type", xaxis_title="predicted",
                         yaxis_title="gold", xaxis={"type": "category"},
                         yaxis={"type": "category", "autorange": "reversed"})
    return figure

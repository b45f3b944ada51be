"""Error analysis of one predictions table: the confusion matrix and each cell's examples, the most confident errors,
and sklearn's per-class report.

The table is the first value of `ftlab.evaluate.predictions(run_id, split)`: example_id, text, gold, predicted,
prob_<label> per label, confidence, correct, then the dataset's metadata columns. (`ftlab.errors` is the UserError
module; this one is `ftlab.analysis.errors`.)

>>> table, _ = predictions("lora-rt-demo")  # doctest: +SKIP
>>> confusion(table)  # doctest: +SKIP
predicted  fresh  rotten
gold
fresh        561      72
rotten        95     538
>>> confusion_examples(table, gold="fresh", predicted="rotten")  # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any, Literal

import pandas as pd

from ftlab.errors import UserError

Normalize = Literal["true", "pred", "all"]


def require_columns(table: Any, needed: Iterable[str], what: str) -> None:
    """UserError naming the missing columns, the ones the table has, and where a complete table comes from."""
    if not isinstance(table, pd.DataFrame):
        raise UserError(f"{what} needs a predictions table (a pandas DataFrame), got {type(table).__name__}. "
                        "Example: table, _ = ftlab.evaluate.predictions(run_id).")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise UserError(f"{what} needs the column(s) {', '.join(missing)}, which the table lacks; its columns are "
                        f"{', '.join(map(str, table.columns)) or '(none)'}. Use a predictions table from "
                        "ftlab.evaluate.predictions(run_id): it has them.")


def labels_of(table: pd.DataFrame) -> list[str]:
    """The model's labels in its own order (from the prob_<label> columns), then any other gold or predicted value."""
    from_probs = [str(c)[len("prob_"):] for c in table.columns if str(c).startswith("prob_")]
    seen = set(table["gold"].astype(str)) | set(table["predicted"].astype(str))
    return from_probs + sorted(seen - set(from_probs))


def confusion(table: pd.DataFrame, *, normalize: Normalize | None = None) -> pd.DataFrame:
    """sklearn's confusion matrix as a DataFrame: rows are gold labels, columns predicted labels.

    `normalize` as in `sklearn.metrics.confusion_matrix`: "true" (each gold row sums to 1), "pred" or "all".
    """
    from sklearn.metrics import confusion_matrix

    require_columns(table, ("gold", "predicted"), "The confusion matrix")
    if normalize not in (None, "true", "pred", "all"):
        raise UserError(f"normalize must be 'true', 'pred', 'all' or None, got {normalize!r}. Example: "
                        "normalize='true' shows each gold label's row as fractions.")
    labels = labels_of(table)
    matrix = confusion_matrix(table["gold"].astype(str), table["predicted"].astype(str), labels=labels,
                              normalize=normalize)
    return pd.DataFrame(matrix, index=pd.Index(labels, name="gold"), columns=pd.Index(labels, name="predicted"))


def confusion_examples(table: pd.DataFrame, gold: str, predicted: str) -> pd.DataFrame:
    """The rows of one confusion-matrix cell: gold label `gold`, predicted `predicted`, in table order."""
    require_columns(table, ("gold", "predicted"), "A confusion-matrix cell")
    labels = labels_of(table)
    for name, value in (("gold", gold), ("predicted", predicted)):
        if str(value) not in labels:
            raise UserError(f"Unknown {name} label '{value}': the table's labels are {', '.join(labels)}. "
                            f"Example: {name}='{labels[0]}'.")
    cell = (table["gold"].astype(str) == str(gold)) & (table["predicted"].astype(str) == str(predicted))
    return table[cell]


def confident_errors(table: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The `n` wrong predictions the model was most sure of, most confident first (ties keep table order)."""
    require_columns(table, ("correct", "confidence"), "The most confident errors")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise UserError(f"n must be a positive whole number, got {n!r}. Example: n=20.")
    wrong = table[~table["correct"].astype(bool)]
    return wrong.sort_values("confidence", ascending=False, kind="stable").head(int(n))


def class_report(table: pd.DataFrame) -> pd.DataFrame:
    """sklearn's classification report as a DataFrame: precision, recall, f1-score and support per label, then
    accuracy (in f1-score, as sklearn prints it), macro and weighted averages."""
    from sklearn.metrics import classification_report

    require_columns(table, ("gold", "predicted"), "The per-class report")
    labels = labels_of(table)
    report = classification_report(table["gold"].astype(str), table["predicted"].astype(str), labels=labels,
                                   output_dict=True, zero_division=0)
    # `labels` covers every value, so sklearn reports accuracy: a bare float, given its own row as the text report does.
    accuracy = report.pop("accuracy")
    frame = pd.DataFrame(report).T
    frame.loc["accuracy"] = [float("nan"), float("nan"), accuracy, float(len(table))]
    frame = frame.reindex([*labels, "accuracy", "macro avg", "weighted avg"])
    frame["support"] = frame["support"].astype(int)
    return frame


def confusion_figure(table: pd.DataFrame, *, normalize: Normalize | None = None, title: str | None = None) -> Any:
    """Plotly heatmap of the confusion matrix, each cell labelled with its count (and its fraction when normalized)."""
    import plotly.graph_objects as go

    counts = confusion(table)
    shown = confusion(table, normalize=normalize) if normalize else counts
    text = (counts.astype(str) + "<br>" + shown.map(lambda v: f"{v:.0%}")) if normalize else counts.astype(str)
    figure = go.Figure(go.Heatmap(
        z=shown.to_numpy(), x=list(shown.columns), y=list(shown.index), text=text.to_numpy(), texttemplate="%{text}",
        colorscale="Blues", hovertemplate="gold %{y}, predicted %{x}: %{text}<extra></extra>",
    ))
    figure.update_layout(title=title or "Confusion matrix", xaxis_title="predicted", yaxis_title="gold",
                         xaxis={"type": "category"}, yaxis={"type": "category", "autorange": "reversed"})
    return figure

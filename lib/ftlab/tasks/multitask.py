"""Multi-task classification: one shared encoder, one head per member dataset (`--task multitask --dataset
rotten_tomatoes+adult_text`).

The heads are the row blocks of one classification layer over every member's labels (`member:label`): each
example's loss is the cross-entropy over its own member's block only, so a member's batch trains the shared
encoder and its own head and leaves the other heads untouched. Keeping one standard model (rather than a custom
module with a dict of heads) lets every method, checkpoint, explanation and export work unchanged. Which member
each batch comes from is the task sampler's choice (`ftlab.tasks.multitask_sampling`).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ftlab.data.multitask import TASK_COL, member_label, member_of
from ftlab.errors import UserError
from ftlab.tasks.base import register_task
from ftlab.tasks.classification import ClassificationTask, batched_logits, classification_metrics, softmax


def member_blocks(labels: list[str]) -> dict[str, list[int]]:
    """Each member's label positions in the head, in label order."""
    blocks: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        blocks.setdefault(member_of(label), []).append(i)
    return blocks


def member_mask(labels: list[str]) -> torch.Tensor:
    """(labels, labels) boolean: row g marks the label positions of gold label g's member."""
    members = [member_of(label) for label in labels]
    return torch.tensor([[m == n for n in members] for m in members])


def masked_loss(mask: torch.Tensor, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
    """Replace the model's loss by each example's cross-entropy over its own member's labels."""
    gold = kwargs.get("labels")
    if gold is None or getattr(output, "logits", None) is None:
        return output
    own = mask.to(output.logits.device)[gold]
    logits = output.logits.float().masked_fill(~own, float("-inf"))
    output["loss"] = nn.functional.cross_entropy(logits, gold)
    return output


def within_member(logits: np.ndarray, labels: list[str], members: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, predicted label id) of each example among its own member's labels (NaN elsewhere)."""
    blocks = member_blocks(labels)
    probs = np.full(logits.shape, np.nan)
    predicted = np.zeros(len(logits), dtype=int)
    for member, ids in blocks.items():
        rows = np.asarray([m == member for m in members])
        if rows.any():
            probs[np.ix_(rows, ids)] = softmax(logits[rows][:, ids])
            predicted[rows] = np.asarray(ids)[probs[np.ix_(rows, ids)].argmax(-1)]
    return probs, predicted


class MultiTaskClassification(ClassificationTask):
    name = "multitask"
    main_metric = "accuracy"
    """The mean of the members' accuracies; each member's own is logged as `<member>_accuracy`."""

    def read_file(self, config: Any) -> pd.DataFrame:
        raise UserError("--task multitask trains on registered datasets joined with '+', e.g. --dataset "
                        "rotten_tomatoes+adult_text; --data files are not supported for it yet.")

    def load_model(self, model_name: str, labels: list[str], *, trust_remote_code: bool = False,
                   **load_options: Any) -> nn.Module:
        model = super().load_model(model_name, labels, trust_remote_code=trust_remote_code, **load_options)
        model.register_forward_hook(functools.partial(masked_loss, member_mask(labels)), with_kwargs=True)
        return model

    def compute_metrics(self, labels: list[str]):
        def compute(eval_pred: Any) -> dict[str, float]:
            logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
            gold = np.asarray(eval_pred.label_ids)
            return member_metrics(gold, np.asarray(logits, dtype=np.float64), labels)

        return compute

    def predictions_table(self, frame: pd.DataFrame, logits: Any, labels: list[str],
                          label_ids: Any = None) -> pd.DataFrame:
        members = [member_of(str(label)) for label in frame["label"]]
        probs, predicted = within_member(np.asarray(logits, dtype=np.float64), labels, members)
        table = pd.DataFrame({
            "example_id": frame["example_id"].to_numpy() if "example_id" in frame else np.arange(len(frame)),
            "text": frame["text"].to_numpy(), "gold": frame["label"].astype(str).to_numpy(),
            "predicted": [labels[i] for i in predicted],
        })
        for i, label in enumerate(labels):
            table[f"prob_{label}"] = probs[:, i]
        table["confidence"] = np.nanmax(probs, axis=-1)
        table["correct"] = table["gold"] == table["predicted"]
        for column in [c for c in frame.columns if c not in {"text", "label", "example_id", "split_group"}]:
            table[column] = frame[column].to_numpy()
        return table

    def text_report(self, table: pd.DataFrame) -> str:
        from sklearn.metrics import classification_report

        return "\n".join(f"{member}\n{classification_report(rows['gold'], rows['predicted'], zero_division=0)}"
                         for member, rows in table.groupby(TASK_COL, sort=True))

    def predict(self, model: nn.Module, tokenizer: Any, texts: list[str], labels: list[str], config: Any) -> list[dict]:
        """Every head's answer for each text: which member a raw text belongs to is the user's to judge."""
        blocks = member_blocks(labels)
        results = []
        for row in batched_logits(model, tokenizer, texts, config):
            heads = {}
            for member, ids in blocks.items():
                probs = softmax(row[ids])
                heads[member] = {"label": labels[ids[int(probs.argmax())]],
                                 "probabilities": {labels[i]: float(p) for i, p in zip(ids, probs)}}
            results.append({"tasks": heads})
        return results


def member_metrics(gold: np.ndarray, logits: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Each member's accuracy, macro-F1 and per-class scores (prefixed `<member>_`), and their means."""
    members = [member_of(labels[g]) for g in gold]
    _, predicted = within_member(logits, labels, members)
    metrics: dict[str, float] = {}
    for member, ids in member_blocks(labels).items():
        rows = np.asarray([m == member for m in members])
        if not rows.any():
            continue
        local = {g: i for i, g in enumerate(ids)}
        scores = classification_metrics(np.asarray([local[g] for g in gold[rows]]),
                                        np.asarray([local[p] for p in predicted[rows]]),
                                        [member_label(labels[i]) for i in ids])
        metrics.update({f"{member}_{name}": value for name, value in scores.items()})
    present = [member for member in member_blocks(labels) if f"{member}_accuracy" in metrics]
    for name in ("accuracy", "macro_f1"):
        metrics[name] = float(np.mean([metrics[f"{member}_{name}"] for member in present]))
    return metrics


MULTITASK = register_task(MultiTaskClassification())

"""Sequence classification: one label per text (sentiment, income, topic...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from torch import nn

from ftlab.errors import UserError
from ftlab.tasks.base import Task, load_with_head, register_task


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def classification_metrics(gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Accuracy, macro-F1 and sklearn's per-class precision/recall/F1/support, flattened for tracking."""
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=ids, zero_division=0)
    metrics = {
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": float(f1_score(gold, pred, labels=ids, average="macro", zero_division=0)),
    }
    for i, label in enumerate(labels):
        metrics[f"precision_{label}"] = float(precision[i])
        metrics[f"recall_{label}"] = float(recall[i])
        metrics[f"f1_{label}"] = float(f1[i])
        metrics[f"support_{label}"] = float(support[i])
    return metrics


class ClassificationTask(Task):
    name = "classification"
    main_metric = "accuracy"

    def read_file(self, config: Any) -> pd.DataFrame:
        from ftlab.data.files import load_table

        return load_table(config.data, config.text_col, config.label_col)

    def labels_of(self, frame: pd.DataFrame) -> list[str]:
        return sorted(frame["label"].astype(str).unique())

    def load_model(self, model_name: str, labels: list[str], *, trust_remote_code: bool = False,
                   **load_options: Any) -> nn.Module:
        from transformers import AutoModelForSequenceClassification

        return load_with_head(AutoModelForSequenceClassification, model_name, labels, task=self.name,
                               trust_remote_code=trust_remote_code, **load_options)

    def encode(self, frame: pd.DataFrame, tokenizer: Any, config: Any, labels: list[str],
               extra_columns: tuple[str, ...] = ()) -> Any:
        from datasets import Dataset

        label2id = {label: i for i, label in enumerate(labels)}
        unknown = sorted(set(frame["label"].astype(str)) - set(label2id))
        if unknown:
            raise UserError(f"Labels {unknown} are not among the model's labels {labels}. "
                            "Evaluate on data with the same label set the run was trained on.")
        padding = "max_length" if config.padding == "max_length" else False
        encoded = tokenizer(frame["text"].tolist(), truncation=True, max_length=config.max_length, padding=padding)
        columns = dict(encoded)
        columns["labels"] = [label2id[str(label)] for label in frame["label"]]
        columns["length"] = [len(ids) for ids in encoded["input_ids"]]
        for column in extra_columns:
            columns[column] = frame[column].tolist()
        return Dataset.from_dict(columns)

    def collator(self, tokenizer: Any, config: Any) -> Callable:
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=config.pad_to_multiple_of)

    def compute_metrics(self, labels: list[str]) -> Callable[[Any], dict[str, float]]:
        def compute(eval_pred: Any) -> dict[str, float]:
            logits, gold = eval_pred.predictions, eval_pred.label_ids
            logits = logits[0] if isinstance(logits, tuple) else logits
            return classification_metrics(np.asarray(gold), np.asarray(logits).argmax(-1), labels)

        return compute

    def predictions_table(self, frame: pd.DataFrame, logits: Any, labels: list[str],
                          label_ids: Any = None) -> pd.DataFrame:
        probs = softmax(np.asarray(logits, dtype=np.float64))
        predicted = probs.argmax(-1)
        table = pd.DataFrame({
            "example_id": frame["example_id"].to_numpy() if "example_id" in frame else np.arange(len(frame)),
            "text": frame["text"].to_numpy(),
            "gold": frame["label"].astype(str).to_numpy(),
            "predicted": [labels[i] for i in predicted],
        })
        for i, label in enumerate(labels):
            table[f"prob_{label}"] = probs[:, i]
        table["confidence"] = probs.max(-1)
        table["correct"] = table["gold"] == table["predicted"]
        metadata = [c for c in frame.columns if c not in {"text", "label", "example_id"}]
        for column in metadata:
            table[column] = frame[column].to_numpy()
        return table

    def text_report(self, table: pd.DataFrame) -> str:
        from sklearn.metrics import classification_report

        return classification_report(table["gold"], table["predicted"], zero_division=0)

    def predict(self, model: nn.Module, tokenizer: Any, texts: list[str], labels: list[str], config: Any) -> list[dict]:
        return [{"label": labels[int(row.argmax())], "probabilities": {label: float(p) for label, p in zip(labels, row)}}
                for row in softmax(batched_logits(model, tokenizer, texts, config))]


def batched_logits(model: nn.Module, tokenizer: Any, texts: list[str], config: Any) -> np.ndarray:
    """The model's logits for raw texts, in batches of --eval-batch-size, truncated to --max-length."""
    model.eval()
    chunks = []
    for start in range(0, len(texts), config.eval_batch_size):
        batch = tokenizer(texts[start:start + config.eval_batch_size], truncation=True, max_length=config.max_length,
                          padding=True, return_tensors="pt")
        with torch.inference_mode():
            chunks.append(model(**batch).logits.double().numpy())
    return np.concatenate(chunks)


CLASSIFICATION = register_task(ClassificationTask())

"""Scoring by logits: run a frame through the model in batches and hand the stacked logits to the task's metrics
and predictions table (classification, NER, multi-task; a causal LM scores by generating instead)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader


def score_by_logits(task: Any, model: Any, tokenizer: Any, frame: pd.DataFrame, config: Any,
                    labels: list[str]) -> tuple[pd.DataFrame, dict[str, float]]:
    from transformers import EvalPrediction

    dataset = task.encode(frame, tokenizer, config, labels).remove_columns(["length"])
    loader = DataLoader(dataset, batch_size=config.eval_batch_size, collate_fn=task.collator(tokenizer, config))
    device = next(model.parameters()).device
    model.eval()
    logits, gold = [], []
    with torch.inference_mode():
        for batch in loader:
            gold.append(batch.pop("labels").numpy())
            out = model(**{k: v.to(device) for k, v in batch.items()})
            logits.append(out.logits.float().cpu().numpy())
    all_logits, all_gold = stack_batches(logits, 0.0), stack_batches(gold, -100)
    metrics = task.compute_metrics(labels)(EvalPrediction(predictions=all_logits, label_ids=all_gold))
    return task.predictions_table(frame, all_logits, labels, all_gold), metrics


def stack_batches(arrays: list[np.ndarray], pad: float) -> np.ndarray:
    """Concatenate per-batch arrays; per-token ones (batches padded to different lengths) are first padded on the
    token axis with `pad` (-100 for labels: ignored, like the collator's padding)."""
    if arrays[0].ndim == 1 or all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays)
    width = max(a.shape[1] for a in arrays)
    return np.concatenate([np.pad(a, [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2),
                                  constant_values=pad) for a in arrays])

"""Supervised fine-tuning (instruction tuning) of a causal LM on chats: the loss is taken on the assistant's
answers only (`ftlab.chat`), validation reports loss and perplexity, and the test split is scored by generating
answers; where the answers are labels (causal classification) by their exact match, strict and lenient.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ftlab.chat import IGNORE, encode_chat, warn_truncated
from ftlab.tasks.base import Task, register_task

ANSWER_SCORES = ("exact_match", "lenient_match")


def first_word(text: str) -> str:
    """The answer's first word, lower-cased, without punctuation: what a strict label match compares."""
    words = re.findall(r"[\w'-]+", text.lower())
    return words[0] if words else ""


def answer_matches(answer: str, gold: str, labels: list[str]) -> tuple[bool, bool]:
    """(strict, lenient): strict when the answer's first word is the gold label; lenient when the gold label
    appears as a word anywhere in the answer and no other label does."""
    words = set(re.findall(r"[\w'-]+", answer.lower()))
    others = {label.lower() for label in labels} - {gold.lower()}
    return first_word(answer) == first_word(gold), gold.lower() in words and not (others & words)


def token_sums(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per chat: [summed negative log-likelihood, learned tokens, correctly predicted tokens] of the answers, so
    that evaluation keeps three numbers per chat instead of its vocabulary-sized logits."""
    logits, targets = logits[:, :-1].float(), labels[:, 1:]  # token t predicts token t + 1
    learned = targets != IGNORE
    nll = nn.functional.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
    correct = (logits.argmax(-1) == targets) & learned
    return torch.stack([(nll * learned).sum(1), learned.sum(1).float(), correct.sum(1).float()], dim=1)


def loss_metrics(sums: np.ndarray) -> dict[str, float]:
    nll, tokens, correct = np.asarray(sums, dtype=np.float64).reshape(-1, 3).sum(0)
    loss = float(nll / max(tokens, 1.0))
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "token_accuracy": float(correct / max(tokens, 1.0))}


class SftTask(Task):
    name = "sft"
    main_metric = "perplexity"
    greater_is_better = False
    quality_metrics = ("exact_match", "token_accuracy")

    def read_file(self, config: Any) -> pd.DataFrame:
        from ftlab.data.chats import read_chat_file

        return read_chat_file(config.data)

    def labels_of(self, frame: pd.DataFrame) -> list[str]:
        return sorted(frame["label"].astype(str).unique()) if "label" in frame else []

    def prepare_tokenizer(self, tokenizer: Any) -> Any:
        from ftlab.causal_lm import ensure_chat_template

        return ensure_chat_template(tokenizer)

    def load_model(self, model_name: str, labels: list[str], *, trust_remote_code: bool = False,
                   **load_options: Any) -> nn.Module:
        from transformers import AutoModelForCausalLM

        from ftlab.models import load_pretrained

        model = load_pretrained(AutoModelForCausalLM, model_name, trust_remote_code=trust_remote_code,
                                **{"dtype": torch.float32, **load_options})
        model.ftlab_new_parameters = set()  # no new head: every weight is pre-trained
        model.ftlab_task = self.name
        return model

    def encode(self, frame: pd.DataFrame, tokenizer: Any, config: Any, labels: list[str],
               extra_columns: tuple[str, ...] = ()) -> Any:
        from datasets import Dataset

        chats = [encode_chat(tokenizer, json.loads(m), config.max_length) for m in frame["messages"]]
        warn_truncated(sum(c.truncated for c in chats), len(chats), config.max_length)
        columns: dict[str, list] = {
            "input_ids": [c.input_ids for c in chats],
            "attention_mask": [[1] * len(c.input_ids) for c in chats],
            "labels": [c.labels for c in chats],
            "length": [len(c.input_ids) for c in chats],
        }
        for column in extra_columns:
            columns[column] = frame[column].tolist()
        return Dataset.from_dict(columns)

    def collator(self, tokenizer: Any, config: Any) -> Callable:
        from transformers import DataCollatorForSeq2Seq

        if config.packing:
            return PackedChats()
        # Pads the inputs with the pad token and the labels with -100 (not learned); works for decoder-only models.
        return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE, pad_to_multiple_of=config.pad_to_multiple_of)

    def reduce_logits(self, logits: Any, labels: Any) -> Any:
        return token_sums(logits[0] if isinstance(logits, tuple) else logits, labels)

    def compute_metrics(self, labels: list[str]) -> Callable[[Any], dict[str, float]]:
        def compute(eval_pred: Any) -> dict[str, float]:
            metrics = loss_metrics(eval_pred.predictions)
            metrics.pop("loss")  # the Trainer reports eval_loss itself (the same number)
            return metrics

        return compute

    def score(self, model: nn.Module, tokenizer: Any, frame: pd.DataFrame, config: Any,
              labels: list[str]) -> tuple[pd.DataFrame, dict[str, float]]:
        """Teacher-forced loss and perplexity of the reference answers, then the model's own generated answers."""
        from ftlab.generate import generate_answers

        metrics = loss_metrics(self._token_sums(model, tokenizer, frame, config))
        answers = generate_answers(model, tokenizer, [json.loads(m)[:-1] for m in frame["messages"]],
                                   max_new_tokens=config.max_new_tokens, batch_size=_batch(config),
                                   max_length=config.max_length)
        table = self.predictions_table(frame, answers, labels)
        if labels:
            metrics.update({score: float(table[score].mean()) for score in ANSWER_SCORES})
        return table, metrics

    def baseline_metrics(self, model: nn.Module, tokenizer: Any, frame: pd.DataFrame, config: Any,
                         labels: list[str]) -> dict[str, float]:
        """The same scores for the model before fine-tuning: an adapter switched off, else the base model reloaded."""
        if hasattr(model, "disable_adapter"):
            with model.disable_adapter():
                return self.score(model, tokenizer, frame, config, labels)[1]
        base = self.load_model(config.model, labels, trust_remote_code=config.trust_remote_code)
        return self.score(base.to(next(model.parameters()).device), tokenizer, frame, config, labels)[1]

    def _token_sums(self, model: nn.Module, tokenizer: Any, frame: pd.DataFrame, config: Any) -> np.ndarray:
        from torch.utils.data import DataLoader

        dataset = self.encode(frame, tokenizer, config, []).remove_columns(["length"])
        loader = DataLoader(dataset, batch_size=_batch(config), collate_fn=self.collator(tokenizer, config))
        device = next(model.parameters()).device
        model.eval()
        sums = []
        with torch.inference_mode():
            for batch in loader:
                batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
                sums.append(token_sums(model(**batch).logits, batch["labels"]).cpu().numpy())
        return np.concatenate(sums)

    def predictions_table(self, frame: pd.DataFrame, logits: Any, labels: list[str],
                          label_ids: Any = None) -> pd.DataFrame:
        """For sft, `logits` holds the generated answers (one string per chat)."""
        table = pd.DataFrame({
            "example_id": frame["example_id"].to_numpy() if "example_id" in frame else np.arange(len(frame)),
            "text": frame["text"].to_numpy(),
            "gold": frame["response"].to_numpy(),
            "predicted": list(logits),
        })
        if labels:
            matches = [answer_matches(a, g, labels) for a, g in zip(table["predicted"], table["gold"])]
            table["exact_match"] = [strict for strict, _ in matches]
            table["lenient_match"] = [lenient for _, lenient in matches]
            table["correct"] = table["exact_match"]
        for column in frame.columns:
            if column not in {"text", "label", "response", "messages", "example_id"}:
                table[column] = frame[column].to_numpy()
        return table

    def text_report(self, table: pd.DataFrame) -> str:
        if "exact_match" not in table:
            lengths = table["predicted"].str.split().str.len()
            return f"{len(table)} generated answers, {lengths.mean():.1f} words on average."
        by_gold = table.groupby("gold")[list(ANSWER_SCORES)].mean()
        by_gold.loc["all"] = table[list(ANSWER_SCORES)].mean()
        return by_gold.round(3).to_string()

    def predict(self, model: nn.Module, tokenizer: Any, texts: list[str], labels: list[str], config: Any) -> list[dict]:
        from ftlab.generate import generate_answers

        chats = [[{"role": "user", "content": text}] for text in texts]
        answers = generate_answers(model, tokenizer, chats, max_new_tokens=config.max_new_tokens,
                                   batch_size=_batch(config), max_length=config.max_length)
        return [{"response": answer} for answer in answers]


class PackedChats:
    """--packing: a batch's chats end to end in one row, with no padding (transformers' padding-free flattening).

    Position ids restart at every chat, from which the model's attention mask keeps each chat to itself; that
    detection is skipped while a KV cache exists, so the batch also turns the cache off. The loss is the padded
    batch's, without the compute spent on pad tokens."""

    def __init__(self) -> None:
        from transformers import DataCollatorWithFlattening

        self.flatten = DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        return {**self.flatten(features), "use_cache": False}


def _batch(config: Any) -> int:
    # A causal LM's logits hold a vocabulary-sized row per token (49k for SmolLM2): keep batches small.
    return min(config.eval_batch_size, 16)


SFT = register_task(SftTask())

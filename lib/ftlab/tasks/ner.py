"""Token classification (named-entity recognition): one IOB2 tag per word, scored per entity with seqeval.

Words are split into sub-word tokens by the tokenizer; only the first sub-token of each word carries the word's
tag and the rest get -100, which the loss and the metrics ignore (`align_labels`), so a word counts once however
many pieces it has. Predictions read the first sub-token's tag, the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ftlab.data.tag_schemes import OUTSIDE, Span, spans_of
from ftlab.errors import UserError
from ftlab.tasks.base import Task, load_with_head, register_task

IGNORED = -100
"""Label id of the sub-tokens after a word's first and of special tokens: `CrossEntropyLoss`'s ignore_index."""


def entity_types(labels: list[str]) -> list[str]:
    return sorted({tag.split("-", 1)[1] for tag in labels if tag != OUTSIDE})


def align_labels(word_ids: list[int | None], tags: list[str], label2id: dict[str, int]) -> list[int]:
    """One label id per token: the word's tag on its first sub-token, -100 on later pieces and special tokens."""
    aligned, previous = [], None
    for word in word_ids:
        aligned.append(IGNORED if word is None or word == previous else label2id[tags[word]])
        previous = word
    return aligned


def ner_metrics(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """seqeval's entity-level report (IOB2, strict) flattened: micro and macro precision/recall/F1, token accuracy,
    and `<type>_precision`, `<type>_recall`, `<type>_f1`, `<type>_support` per entity type."""
    from seqeval.metrics import accuracy_score, classification_report
    from seqeval.scheme import IOB2

    report = classification_report(gold, predicted, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    metrics = {"micro_precision": report["micro avg"]["precision"], "micro_recall": report["micro avg"]["recall"],
               "micro_f1": report["micro avg"]["f1-score"], "macro_f1": report["macro avg"]["f1-score"],
               "token_accuracy": accuracy_score(gold, predicted)}
    for kind, scores in report.items():
        if kind.endswith(" avg"):
            continue
        for name, key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"),
                          ("support", "support")):
            metrics[f"{kind}_{name}"] = scores[key]
    return {name: float(value) for name, value in metrics.items()}


def word_tags(logits: np.ndarray, label_ids: np.ndarray, labels: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """(gold, predicted) tags per sentence, read at the positions whose label is not -100 (first sub-tokens)."""
    gold, predicted = [], []
    for sentence_logits, sentence_labels in zip(logits, label_ids):
        keep = sentence_labels != IGNORED
        gold.append([labels[i] for i in sentence_labels[keep]])
        # An entity the model opens with I- counts as one, as in the predictions table and `ftlab predict`.
        predicted.append(repair_iob2([labels[i] for i in sentence_logits[keep].argmax(-1)]))
    return gold, predicted


def entities(tags: list[str], words: list[str], spans: list[tuple[int, int]], text: str,
             scores: list[float]) -> list[dict[str, Any]]:
    """The entities of IOB2 `tags` over words at character `spans` of `text`: text, type, start, end, score (the
    mean probability of the entity's word tags)."""
    found: list[Span] = spans_of(repair_iob2(tags), "iob2")
    return [{"text": text[spans[s.start][0]:spans[s.end - 1][1]], "type": s.type, "start": spans[s.start][0],
             "end": spans[s.end - 1][1], "score": float(np.mean(scores[s.start:s.end]))} for s in found]


def repair_iob2(tags: list[str]) -> list[str]:
    """A model's tags with an entity opened by I- read as B- (what seqeval's default mode does too)."""
    repaired, previous = [], OUTSIDE
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        repaired.append(tag)
        previous = tag
    return repaired


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def _describe(spans: set[Span], tokens: list[str]) -> list[str]:
    """"type: words" per entity, in sentence order (what the tables and the app show)."""
    return [f"{s.type}: {' '.join(tokens[s.start:s.end])}" for s in sorted(spans, key=lambda s: (s.start, s.end))]


class TokenClassificationTask(Task):
    name = "ner"
    main_metric = "micro_f1"

    file_group_col = "text"

    def read_file(self, config: Any) -> pd.DataFrame:
        from ftlab.data.tagged_files import load_tagged, with_text

        return with_text(load_tagged(config.data, config.tag_scheme))

    def labels_of(self, frame: pd.DataFrame) -> list[str]:
        """O, then B- and I- of every entity type in the frame (both, even where one never occurs)."""
        kinds = entity_types([tag for sentence in frame["tags"] for tag in sentence])
        return [OUTSIDE] + [f"{prefix}-{kind}" for kind in kinds for prefix in ("B", "I")]

    def load_model(self, model_name: str, labels: list[str], *, trust_remote_code: bool = False,
                   **load_options: Any) -> nn.Module:
        from transformers import AutoModelForTokenClassification

        return load_with_head(AutoModelForTokenClassification, model_name, labels, task=self.name,
                               trust_remote_code=trust_remote_code, **load_options)

    def encode(self, frame: pd.DataFrame, tokenizer: Any, config: Any, labels: list[str],
               extra_columns: tuple[str, ...] = ()) -> Any:
        from datasets import Dataset

        label2id = {label: i for i, label in enumerate(labels)}
        unknown = sorted({tag for tags in frame["tags"] for tag in tags} - set(label2id))
        if unknown:
            raise UserError(f"Tags {unknown} are not among the model's tags {labels}. Evaluate on data with the "
                            "entity types the run was trained on.")
        encoded = tokenizer(frame["tokens"].map(list).tolist(), is_split_into_words=True, truncation=True,
                            max_length=config.max_length)
        columns = dict(encoded)
        columns["labels"] = [align_labels(encoded.word_ids(i), list(tags), label2id)
                             for i, tags in enumerate(frame["tags"])]
        columns["length"] = [len(ids) for ids in encoded["input_ids"]]
        for column in extra_columns:
            columns[column] = frame[column].tolist()
        return Dataset.from_dict(columns)

    def collator(self, tokenizer: Any, config: Any) -> Callable:
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=config.pad_to_multiple_of)

    def compute_metrics(self, labels: list[str]) -> Callable[[Any], dict[str, float]]:
        def compute(eval_pred: Any) -> dict[str, float]:
            logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
            return ner_metrics(*word_tags(np.asarray(logits), np.asarray(eval_pred.label_ids), labels))

        return compute

    def predictions_table(self, frame: pd.DataFrame, logits: Any, labels: list[str],
                          label_ids: Any = None) -> pd.DataFrame:
        """One row per sentence: its words, gold and predicted tags and entities, how many entities were found,
        missed or wrong, and a confidence (the mean over words of the predicted tag's probability)."""
        probs = _softmax(np.asarray(logits, dtype=np.float64))
        rows = []
        for i, (sentence_probs, sentence_labels) in enumerate(zip(probs, np.asarray(label_ids))):
            keep = sentence_labels != IGNORED
            gold = [labels[j] for j in sentence_labels[keep]]
            word_probs = sentence_probs[keep]
            predicted = repair_iob2([labels[j] for j in word_probs.argmax(-1)])
            gold_spans, predicted_spans = set(spans_of(gold, "iob2")), set(spans_of(predicted, "iob2"))
            rows.append({
                "gold_tags": gold, "predicted_tags": predicted,
                "gold_entities": _describe(gold_spans, frame["tokens"].iloc[i]),
                "predicted_entities": _describe(predicted_spans, frame["tokens"].iloc[i]),
                "entities_found": len(gold_spans & predicted_spans), "entities_missed": len(gold_spans - predicted_spans),
                "entities_wrong": len(predicted_spans - gold_spans),
                "word_errors": int(sum(g != p for g, p in zip(gold, predicted))),
                "confidence": float(word_probs.max(-1).mean()) if len(word_probs) else 1.0,
            })
        table = pd.DataFrame(rows)
        table.insert(0, "example_id", frame["example_id"].to_numpy() if "example_id" in frame else np.arange(len(frame)))
        table.insert(1, "text", frame["tokens"].map(" ".join).to_numpy())
        table.insert(2, "tokens", frame["tokens"].map(list).to_numpy())
        table["correct"] = table["word_errors"] == 0
        for column in [c for c in frame.columns if c not in {"tokens", "tags", "text", "example_id"}]:
            table[column] = frame[column].to_numpy()
        return table

    def text_report(self, table: pd.DataFrame) -> str:
        from seqeval.metrics import classification_report
        from seqeval.scheme import IOB2

        return classification_report(table["gold_tags"].map(list).tolist(), table["predicted_tags"].map(list).tolist(),
                                     mode="strict", scheme=IOB2, zero_division=0, digits=3)

    def predict(self, model: nn.Module, tokenizer: Any, texts: list[str], labels: list[str], config: Any) -> list[dict]:
        """Entities per text with character offsets into it; words are split as the explainers split them."""
        from ftlab.explain.words import split_words

        results: list[dict] = []
        model.eval()
        for text in texts:
            words = split_words(text)
            if not len(words):
                results.append({"entities": []})
                continue
            encoded = tokenizer(list(words.words), is_split_into_words=True, truncation=True,
                                max_length=config.max_length, return_tensors="pt")
            with torch.inference_mode():
                probs = torch.softmax(model(**encoded).logits.float(), -1)[0].numpy()
            first = {}
            for position, word in enumerate(encoded.word_ids(0)):
                if word is not None and word not in first:
                    first[word] = position
            read = sorted(first)  # words past max_length have no token and get no tag
            tags = [labels[int(probs[first[w]].argmax())] for w in read]
            scores = [float(probs[first[w]].max()) for w in read]
            results.append({"entities": entities(tags, [words.words[w] for w in read],
                                                 [words.spans[w] for w in read], text, scores)})
        return results


NER = register_task(TokenClassificationTask())

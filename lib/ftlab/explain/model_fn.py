"""A trained classifier as the function explainers call: texts in, class probabilities out, fast.

Explainers call the model thousands of times on near-identical texts, so calls are deduplicated, sorted by length
and batched with padding only to the longest text of each batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ftlab.errors import UserError

log = logging.getLogger("ftlab")


@dataclass
class ClassifierFn:
    model: Any
    tokenizer: Any
    labels: list[str]
    max_length: int
    batch_size: int = 64
    calls: int = 0
    """Texts scored so far (after deduplication), for benchmarks and progress."""
    run_id: str | None = None
    """The run the model was loaded from: explanations of it are cached in the run folder."""
    on_batch: Callable[[], None] | None = None
    """Called after every batch: explainers call the model thousands of times, so this is where progress is
    reported, and where raising stops a long explanation."""

    @classmethod
    def from_run(cls, run_id: str) -> ClassifierFn:
        from ftlab.evaluate import load_trained
        from ftlab.runs import require_classification

        require_classification(run_id, "this explanation (SHAP, LIME and IG of a class)")
        model, tokenizer, config, labels, task = load_trained(run_id)
        return cls(model, tokenizer, list(labels), config.max_length, run_id=run_id)

    def __call__(self, texts: list[str] | np.ndarray) -> np.ndarray:
        """Probabilities, shape (len(texts), len(labels))."""
        texts = [str(t) for t in texts]
        unique = list(dict.fromkeys(texts))
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        probabilities = np.zeros((len(unique), len(self.labels)), dtype=np.float64)
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = [unique[i] for i in order[start:start + self.batch_size]]
                encoded = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                         return_tensors="pt").to(device)
                logits = self.model(**encoded).logits.float()
                probabilities[order[start:start + self.batch_size]] = torch.softmax(logits, -1).cpu().numpy()
                self.calls += len(batch)
                if self.on_batch is not None:
                    self.on_batch()
        row = {text: i for i, text in enumerate(unique)}
        return probabilities[[row[t] for t in texts]]

    def label_index(self, label: str | int | None, text: str) -> int:
        """The class to explain: a label name, its index, or (None) the predicted class of `text`."""
        if label is None:
            return int(self([text])[0].argmax())
        if isinstance(label, int) or (isinstance(label, str) and label.isdigit() and label not in self.labels):
            index = int(label)
            if 0 <= index < len(self.labels):
                return index
        elif label in self.labels:
            return self.labels.index(label)
        raise UserError(f"Unknown class {label!r}: this run's classes are {', '.join(self.labels)}. "
                        f"Example: --target {self.labels[0]}.")

    def check_text(self, text: str) -> bool:
        """Refuse an empty text; return True (and log a warning) when the text is longer than the model reads."""
        if not isinstance(text, str) or not text.strip():
            raise UserError("Nothing to explain: give a non-empty text, e.g. --text 'A warm, funny film.'")
        tokens = len(self.tokenizer(text, truncation=False)["input_ids"])
        if tokens > self.max_length:
            log.warning("the text has %d tokens; the model reads only the first %d, so words after that get no "
                        "attribution (raise --max-length when training to read more)", tokens, self.max_length)
            return True
        return False

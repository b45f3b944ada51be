"""`--augment` as a training option: texts are augmented on the fly, per batch, while the training loader collates.

- The raw text travels into batches as a plug-in extra column (`Plugins.extra_columns`).
- A collator wrapper (`Plugins.collator_wrappers`) drops that column from every batch and, in the training
  loader only (the trainer wraps its training and evaluation collators separately), augments each text with
  probability --augment-prob and re-tokenises the changed ones before padding. Each batch has its own generator,
  seeded by --seed and the batch's number: the same seed gives the same augmented batches, and every epoch draws
  afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transformers import TrainerCallback

from ftlab.augment.apply import Augmentation, batch_rng
from ftlab.errors import UserError
from ftlab.plugins import Plugins
from ftlab.training_options import OptionContext, register_option

TEXT_COL = "text"
"""The frame column carried into batches: the example's raw text, to augment and re-tokenise."""


@dataclass
class BatchCounter:
    batches: int = 0
    """Training batches collated so far: the number that seeds the next batch's generator."""


class AugmentingCollator:
    """Wraps the task's collator (see the module docstring)."""

    def __init__(self, inner: Callable, augmentation: Augmentation, tokenizer: Any, config: Any,
                 counter: BatchCounter, training: bool) -> None:
        self.inner, self.augmentation, self.tokenizer, self.config = inner, augmentation, tokenizer, config
        self.counter, self.training = counter, training

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        if self.training and any(TEXT_COL not in feature for feature in features):
            raise RuntimeError(f"--augment: a training batch came without its '{TEXT_COL}' column; encode the "
                               "training split with the plug-ins' extra_columns")
        texts = [feature.get(TEXT_COL) for feature in features]
        features = [{k: v for k, v in feature.items() if k != TEXT_COL} for feature in features]
        if self.training:
            self._augment(features, texts)
        return self.inner(features)

    def _augment(self, features: list[dict[str, Any]], texts: list[str]) -> None:
        """Replace, in place, the encoding of each text that the augmentation changed."""
        new, _ = self.augmentation.apply(texts, batch_rng(self.config.seed, self.counter.batches))
        self.counter.batches += 1
        changed = [i for i, (old, text) in enumerate(zip(texts, new)) if old != text]
        if not changed:
            return
        padding = "max_length" if self.config.padding == "max_length" else False
        encoded = self.tokenizer([new[i] for i in changed], truncation=True, max_length=self.config.max_length,
                                 padding=padding)
        for row, i in enumerate(changed):
            features[i].update({key: values[row] for key, values in encoded.items()})
            features[i]["length"] = len(encoded["input_ids"][row])


class ResumedBatches(TrainerCallback):
    """On resume, the batches of the steps already done are skipped, not collated: count them as seen, so the
    resumed run augments its next batch as the uninterrupted run would have."""

    def __init__(self, counter: BatchCounter) -> None:
        self.counter = counter

    def on_train_begin(self, args, state, control, **kwargs):
        self.counter.batches = state.global_step * args.gradient_accumulation_steps


def augment_plugins(context: OptionContext) -> Plugins | None:
    """The `augment` training option: None for --augment none."""
    config = context.config
    if getattr(config, "augment", "none") == "none":
        return None
    if context.task.name != "classification":
        raise UserError(f"--augment works for the classification task only, not '{context.task.name}'; use "
                        "--augment none.")
    augmentation = Augmentation.build(config, context.tokenizer)
    counter = BatchCounter()

    def wrap(collator: Callable, training: bool) -> Callable:
        return AugmentingCollator(collator, augmentation, context.tokenizer, config, counter, training)

    return Plugins(collator_wrappers=[wrap], callbacks=[ResumedBatches(counter)], extra_columns=(TEXT_COL,))


register_option("augment", augment_plugins)

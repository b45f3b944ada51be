"""The chosen augmenters of a run, applied to a batch of texts with a seeded generator; and the app's preview."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ftlab.augment.registry import Augmenter, AugmentSetup, chosen_augmenters, get_augmenter


def batch_rng(seed: int, batch: int) -> random.Random:
    """The generator of one training batch: the same (seed, batch) always augments the same way, and each batch
    (so each epoch's pass over an example) draws afresh."""
    return random.Random(f"ftlab.augment:{seed}:{batch}")


@dataclass
class Augmentation:
    augmenters: dict[str, Augmenter]
    """name -> the built augmenter, in --augment order."""
    prob: float
    """Probability that one text is augmented."""

    @classmethod
    def build(cls, config: Any, tokenizer: Any = None) -> Augmentation:
        """Build each augmenter of `config.augment` once (a thesaurus read, an embedding matrix or translation
        models loaded)."""
        setup = AugmentSetup(config, tokenizer)
        return cls({name: get_augmenter(name).build(setup) for name in chosen_augmenters(config.augment)},
                   config.augment_prob)

    def apply(self, texts: Sequence[str], rng: random.Random,
              prob: float | None = None) -> tuple[list[str], list[str | None]]:
        """Each text augmented with probability `prob` (the run's by default) by one of the augmenters, picked at
        random (one per text, EDA's way, so that each change stays readable). Returns the texts and, per text,
        the augmenter used (None: left as it was)."""
        prob = self.prob if prob is None else prob
        names = list(self.augmenters)
        picked = [rng.choice(names) if rng.random() < prob else None for _ in texts]
        out = list(texts)
        for name in names:  # one call per augmenter, so a model-based one sees all its texts at once
            rows = [i for i, chosen in enumerate(picked) if chosen == name]
            if rows:
                for i, text in zip(rows, self.augmenters[name]([texts[i] for i in rows], rng)):
                    out[i] = text
        return out, picked


def preview(texts: Sequence[str], config: Any, n: int = 5, *, tokenizer: Any = None) -> pd.DataFrame:
    """The first `n` texts, each augmented (probability 1, so that every row shows a change) by one of the
    augmenters of `config.augment` as training would pick it, seeded by `config.seed`.

    Columns: `augmenter`, `original`, `augmented`.
    """
    augmentation = Augmentation.build(config, tokenizer)
    originals = list(texts)[:n]
    augmented, picked = augmentation.apply(originals, random.Random(f"ftlab.augment.preview:{config.seed}"), 1.0)
    return pd.DataFrame({"augmenter": picked, "original": originals, "augmented": augmented})


def training_texts(config: Any, n: int) -> list[str]:
    """`n` texts of the run's training split (a seeded sample), as `preview` shows them before a launch."""
    from ftlab.train import load_splits

    train = load_splits(config)["train"]
    return train["text"].sample(min(n, len(train)), random_state=config.seed).tolist()

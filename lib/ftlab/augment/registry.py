"""The augmenter registry (the `peft` tuner pattern, as in `ftlab.methods`): each augmenter module registers an
`AugmenterSpec` by name; `--augment` names one or several, and `check_config` validates a config's choice.

An augmenter is built once per run (`spec.build(setup)`, where it may load a thesaurus or a model) into a function
`fn(texts, rng) -> texts` that is called once per batch with the texts chosen for it, so that model-based
augmenters (back-translation) translate a batch at a time. All randomness comes from `rng`, which is seeded.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ftlab.errors import UserError
from ftlab.registry import Registry

Augmenter = Callable[[list[str], random.Random], list[str]]
"""fn(texts, rng) -> the same number of texts, augmented, in order."""


@dataclass
class AugmentSetup:
    """What building an augmenter may need: the run's config and the model's tokenizer (loaded on first use)."""

    config: Any
    """The run's `TrainConfig` (`model`, `seed`, `augment_translation_models`...)."""
    tokenizer: Any = field(default=None)
    """The model's tokenizer; loaded from `config.model` on first use when not given."""

    def get_tokenizer(self) -> Any:
        if self.tokenizer is None:
            from ftlab.models import load_tokenizer

            self.tokenizer = load_tokenizer(self.config.model, trust_remote_code=self.config.trust_remote_code)
        return self.tokenizer


@dataclass(frozen=True)
class AugmenterSpec:
    name: str
    """The name in `--augment`."""
    description: str
    build: Callable[[AugmentSetup], Augmenter]
    check: Callable[[Any], None] | None = None
    """Cheap checks of the config before anything is written (no download, no model load), e.g. that the
    back-translation models are given; raises `UserError`."""


AUGMENTERS: Registry[AugmenterSpec] = Registry("augmenter", "Choose them with --augment, e.g. --augment "
                                                            "typos,synonyms (or --augment none).")


def register_augmenter(spec: AugmenterSpec) -> AugmenterSpec:
    return AUGMENTERS.register(spec.name, spec)


def get_augmenter(name: str) -> AugmenterSpec:
    return AUGMENTERS.get(name)


def list_augmenters() -> list[AugmenterSpec]:
    return AUGMENTERS.values()


def chosen_augmenters(value: str) -> list[str]:
    """The names in an `--augment` value (`typos, synonyms` -> ['typos', 'synonyms']); [] for `none`."""
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"--augment must be `none` or a comma-separated list of augmenters, got {value!r}; e.g. "
                        f"--augment typos,synonyms. Known augmenters: {', '.join(AUGMENTERS.names())}.")
    names = list(dict.fromkeys(part.strip() for part in value.split(",")))
    if names == ["none"]:
        return []
    if "none" in names or "" in names:
        raise UserError(f"--augment {value!r} mixes `none` or an empty name into the list; give `none` alone or "
                        "augmenter names separated by commas, e.g. --augment typos,synonyms.")
    for name in names:
        get_augmenter(name)  # an unknown name lists the known ones
    return names


def check_config(config: Any) -> None:
    """The `--augment` names are known, the task is classification, and each chosen augmenter has what it needs."""
    names = chosen_augmenters(config.augment)
    if names and config.task != "classification":
        raise UserError(f"--augment works for the classification task only, not '{config.task}': entity tags would "
                        "need tag-aware augmentation (a dropped or swapped word moves its tag). Use --augment none.")
    for name in names:
        spec = get_augmenter(name)
        if spec.check is not None:
            spec.check(config)

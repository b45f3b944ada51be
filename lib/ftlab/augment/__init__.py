"""Data augmentation as a training option (`--augment`, `--augment-prob`): training texts are augmented on the
fly, per batch and seeded, while evaluation sees them clean. One module per augmenter, registered by name:

- `typos`, `word-dropout`, `word-swap` (noise.py): character typos and EDA's word deletion and swap;
- `synonyms`, `embedding-neighbours` (synonyms.py): Roget synonyms shipped with ftlab, or the nearest tokens in the
  model's input-embedding space;
- `backtranslation` (backtranslation.py): to a pivot language and back with two translation models.

Importing this package registers them and the `augment` option of `ftlab.training_options`.

>>> from ftlab.augment import preview  # doctest: +SKIP
>>> preview(["a gripping, beautifully acted thriller"], TrainConfig(augment="typos,synonyms"), n=1)  # doctest: +SKIP
"""

from ftlab.augment.registry import (AUGMENTERS, Augmenter, AugmenterSpec, AugmentSetup, check_config,
                                    chosen_augmenters, get_augmenter, list_augmenters, register_augmenter)
# Importing the augmenter modules registers them, in the order `list_augmenters` (and the app) shows them.
from ftlab.augment.noise import edits_for, typo, typos, word_dropout, word_swap  # isort: skip
from ftlab.augment.synonyms import EmbeddingNeighbours, roget_synonyms, synonym_replacement  # isort: skip
from ftlab.augment.backtranslation import translation_models  # isort: skip
from ftlab.augment.apply import Augmentation, batch_rng, preview, training_texts  # isort: skip
# Registers the `augment` training option.
from ftlab.augment.training import TEXT_COL, augment_plugins  # isort: skip

__all__ = ["AUGMENTERS", "Augmentation", "AugmentSetup", "Augmenter", "AugmenterSpec", "EmbeddingNeighbours",
           "TEXT_COL", "augment_plugins", "batch_rng", "check_config", "chosen_augmenters", "edits_for",
           "get_augmenter", "list_augmenters", "preview", "register_augmenter", "roget_synonyms",
           "synonym_replacement", "training_texts", "translation_models", "typo", "typos", "word_dropout",
           "word_swap"]

"""Robustness: adversarial training on the word embeddings (`--adversarial fgm|pgd`, a training option) and
accuracy under a seeded typo, word-edit or synonym attack (`ftlab robustness RUN`). Importing this package registers
the `adversarial` training option.
"""

from ftlab.robustness.adversarial import (adversarial_plugins, along_gradient, embedding_weight, fgm_step,
                                          pgd_step, project)
from ftlab.robustness.attacks import (ATTACKS, DEFAULT_RATE, attack_texts, robust_accuracy, synonym_attack,
                                      typo_attack, word_attack)

__all__ = ["ATTACKS", "DEFAULT_RATE", "adversarial_plugins", "along_gradient", "attack_texts", "embedding_weight",
           "fgm_step", "pgd_step", "project", "robust_accuracy", "synonym_attack", "typo_attack", "word_attack"]

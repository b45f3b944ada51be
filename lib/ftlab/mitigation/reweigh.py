"""Reweighing (Kamiran & Calders 2012, "Data preprocessing techniques for classification without
discrimination", Knowledge and Information Systems 33(1)).

A model learns the association between group and label that its training data shows. Reweighing removes that
association from what the model sees without touching any example or the loss: a training row of group g and
label y gets the weight

    w(g, y) = P(g) · P(y) / P(g, y)

(frequencies in the training split): the count the (g, y) cell would have if group and label were independent,
over the count it has. Under-represented cells (women earning >50K on adult_text) weigh more than 1,
over-represented ones less.

Here the weights drive a `torch.utils.data.WeightedRandomSampler` (the paper's resampling reading of the same
weights): each epoch draws as many rows as the split has, with replacement, so in expectation the batches have
group and label independent. The sampler's generator is seeded from --seed, so a run (and its resume) draws the
same batches. It replaces the default sampler, so --group-by-length has no effect with reweigh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import WeightedRandomSampler

from ftlab.mitigation.common import TrainingGroups
from ftlab.mitigation.registry import MitigationSpec, register_mitigation
from ftlab.plugins import Plugins

if TYPE_CHECKING:
    from ftlab.config import TrainConfig


def kamiran_calders_weights(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """w(g, y) = P(g)·P(y) / P(g, y) for each row, from the rows' own frequencies."""
    # Neither fairlearn nor sklearn computes these (AIF360 does, but is not a dependency): three frequencies.
    rows = pd.DataFrame({"g": groups, "y": labels})
    p_group = rows["g"].map(rows["g"].value_counts(normalize=True))
    p_label = rows["y"].map(rows["y"].value_counts(normalize=True))
    p_cell = rows.groupby(["g", "y"])["g"].transform("size") / len(rows)
    return (p_group * p_label / p_cell).to_numpy(dtype=np.float64)


def reweigh_sampler(weights: np.ndarray, seed: int) -> WeightedRandomSampler:
    """An epoch's worth of row indices drawn with replacement in proportion to `weights`, seeded."""
    return WeightedRandomSampler(torch.tensor(weights, dtype=torch.double), num_samples=len(weights),
                                 replacement=True, generator=torch.Generator().manual_seed(seed))


def build(config: TrainConfig, groups: TrainingGroups) -> Plugins:
    weights = kamiran_calders_weights(groups.groups, groups.labels)

    def sampler(train_dataset: Any, _args: Any) -> WeightedRandomSampler:
        if len(train_dataset) != len(weights):  # the weights are per row of the split the dataset was encoded from
            raise ValueError(f"reweigh: {len(weights)} weights for a training set of {len(train_dataset)} rows")
        return reweigh_sampler(weights, config.seed)

    return Plugins(sampler=sampler)


SPEC = register_mitigation(MitigationSpec(
    name="reweigh", build=build,
    description="Sample training rows with Kamiran-Calders weights P(g)P(y)/P(g,y): group and label independent.",
))

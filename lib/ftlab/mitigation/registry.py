"""The mitigation registry (the `peft` tuner pattern, as in `ftlab.methods`): each mitigation is one module that
registers a `MitigationSpec` by name and builds its trainer plug-ins (a sampler, loss terms) from the config and
the training split's groups. `mitigation_plugins` is the one function training calls; the trainer never
branches on a mitigation's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ftlab.mitigation.common import TrainingGroups
from ftlab.plugins import Plugins
from ftlab.registry import Registry

if TYPE_CHECKING:
    from ftlab.config import TrainConfig

BuildFn = Callable[["TrainConfig", TrainingGroups], Plugins]


@dataclass(frozen=True)
class SelectionScore:
    """How a mitigation scores its evaluated checkpoints on the validation rows; training ends on the lowest."""

    metric: str
    """Name of the score among the evaluation metrics (logged as `eval_<metric>`)."""
    score: Callable[[dict[str, float], "TrainConfig"], float]
    """fn(evaluation metrics, with `dp_difference` and `eo_difference` among them, config) -> score."""


@dataclass(frozen=True)
class MitigationSpec:
    name: str
    """The `--mitigation` value."""
    description: str
    build: BuildFn | None
    """The plug-ins for a config and the training split's groups; None for a mitigation that changes nothing."""
    default_weight: float | None = None
    """--penalty-weight when the user gives none; None for a mitigation without a weight."""
    selection: SelectionScore | None = None
    """Choose the checkpoint the run ends on by this validation score (see `ftlab.mitigation.validation`); None:
    the run ends on its last step."""


MITIGATIONS: Registry[MitigationSpec] = Registry("mitigation", "Choose one with --mitigation, e.g. "
                                                               "--mitigation reweigh --sensitive-col sex.")


def register_mitigation(spec: MitigationSpec) -> MitigationSpec:
    return MITIGATIONS.register(spec.name, spec)


def get_mitigation(name: str) -> MitigationSpec:
    return MITIGATIONS.get(name)


def list_mitigations() -> list[MitigationSpec]:
    return MITIGATIONS.values()


def penalty_weight(config: TrainConfig) -> float | None:
    """The weight `config.mitigation` trains with: --penalty-weight, else the mitigation's own default; None for a
    mitigation without a weight (none, reweigh), whatever --penalty-weight says."""
    default = get_mitigation(config.mitigation).default_weight
    if default is None:
        return None
    return default if config.penalty_weight is None else config.penalty_weight


def mitigation_plugins(config: TrainConfig, train_frame: pd.DataFrame, labels: list[str]) -> Plugins:
    """The plug-ins of `config.mitigation`, built from the training split (none for `--mitigation none`).

    Loss terms read the batch's groups from `GROUP_COL`: pass the frames through `with_group_codes` before
    encoding them.
    """
    spec = get_mitigation(config.mitigation)
    if spec.build is None:
        return Plugins()
    return spec.build(config, TrainingGroups.of(config, train_frame, labels))


NONE = register_mitigation(MitigationSpec(name="none", description="Train on the data and loss as they are.",
                                          build=None))

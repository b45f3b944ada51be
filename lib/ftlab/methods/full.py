"""Full fine-tuning: every parameter is trained (the seeds' baseline)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ftlab.methods.common import EVERY_TASK
from ftlab.methods.registry import MethodSpec, register_method


@dataclass
class FullConfig:
    """Full fine-tuning has no options."""


def apply(model: nn.Module, config: FullConfig) -> nn.Module:
    for param in model.parameters():
        param.requires_grad_(True)
    return model


SPEC = register_method(MethodSpec(
    name="full", config_cls=FullConfig, apply=apply, tasks=EVERY_TASK,
    description="Train every parameter.", default_learning_rate=5e-5,
))

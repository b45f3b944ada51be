"""Freezing: train only the top `layers` transformer blocks and the task head."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ftlab.errors import UserError
from ftlab.methods.common import EVERY_TASK, freeze_all, transformer_blocks, unfreeze_head
from ftlab.methods.registry import MethodSpec, register_method


@dataclass
class FreezeConfig:
    layers: int = 2
    """How many of the top transformer blocks to train (0 trains the head alone)."""

    def __post_init__(self) -> None:
        if not isinstance(self.layers, int) or self.layers < 0:
            raise UserError(f"--freeze-layers must be 0 or a positive whole number, got {self.layers!r}.")


def apply(model: nn.Module, config: FreezeConfig) -> nn.Module:
    blocks = transformer_blocks(model)
    if config.layers > len(blocks):
        raise UserError(f"--freeze-layers {config.layers} is more than the model's {len(blocks)} layers; "
                        f"use at most {len(blocks)}, or --method full.")
    freeze_all(model)
    for block in list(blocks)[len(blocks) - config.layers:]:
        for param in block.parameters():
            param.requires_grad_(True)
    unfreeze_head(model)
    return model


SPEC = register_method(MethodSpec(
    name="freeze", config_cls=FreezeConfig, apply=apply, tasks=EVERY_TASK,
    description="Train the top k transformer layers and the head; the rest stays frozen.", default_learning_rate=1e-4,
))

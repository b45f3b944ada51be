"""BitFit (Ben Zaken et al., 2021): train only the bias terms, plus the task head."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ftlab.errors import UserError
from ftlab.methods.common import EVERY_TASK, freeze_all, unfreeze_head
from ftlab.methods.registry import MethodSpec, register_method


@dataclass
class BitFitConfig:
    """BitFit has no options: every bias is trained."""


def apply(model: nn.Module, config: BitFitConfig) -> nn.Module:
    freeze_all(model)
    for name, param in model.named_parameters():
        if name.endswith(".bias"):
            param.requires_grad_(True)
    unfreeze_head(model)
    if not any(param.requires_grad for param in model.parameters()):
        raise UserError(f"--method bitfit trains only bias terms, and {type(model).__name__} has none (Llama-style "
                        "models such as smollm2-135m are built without biases). Use --method lora or ia3 instead.")
    return model


SPEC = register_method(MethodSpec(
    name="bitfit", config_cls=BitFitConfig, apply=apply, tasks=EVERY_TASK,
    description="Train only the biases and the head (about 0.1% of an encoder).", default_learning_rate=1e-3,
))

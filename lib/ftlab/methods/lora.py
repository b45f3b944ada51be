"""LoRA (Hu et al., 2021) through `peft`: low-rank updates W + (alpha/r)·B·A on chosen linear layers, with the
variants peft offers as options: DoRA (weight-decomposed), rsLoRA (alpha/sqrt(r) scaling) and other inits."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ftlab.errors import UserError
from ftlab.methods.common import EVERY_TASK, apply_peft, new_module_names, peft_task_type
from ftlab.methods.registry import MethodSpec, register_method

LORA_INITS = ("default", "gaussian", "pissa", "olora", "orthogonal")
"""Initialisations of A and B that need no calibration data (peft's `init_lora_weights`)."""


@dataclass
class LoraOptions:
    r: int = 8
    """Rank of the update matrices."""
    alpha: int = 16
    """Scaling numerator: the update is multiplied by alpha / r."""
    dropout: float = 0.1
    """Dropout on the LoRA branch's input."""
    target_modules: list[str] | str | None = None
    """Layer names to adapt (e.g. [query, value]) or 'all-linear'; unset uses peft's default for the architecture."""
    use_dora: bool = False
    """Weight-decomposed LoRA (DoRA): learn a magnitude and a direction."""
    use_rslora: bool = False
    """Rank-stabilised LoRA: scale by alpha / sqrt(r) instead of alpha / r, so larger ranks keep learning."""
    init: str = "default"
    """How A and B start: `default` (B = 0, A Kaiming), `gaussian`, `pissa` (principal singular vectors of W),
    `olora` (QR of W) or `orthogonal`."""

    def __post_init__(self) -> None:
        if not isinstance(self.r, int) or self.r <= 0:
            raise UserError(f"--lora-r must be a positive whole number, got {self.r!r}; e.g. --lora-r 8.")
        if not (0 <= self.dropout < 1):
            raise UserError(f"--lora-dropout must be in [0, 1), got {self.dropout!r}.")
        if self.alpha <= 0:
            raise UserError(f"--lora-alpha must be positive, got {self.alpha!r}; e.g. --lora-alpha 16.")
        if self.init not in LORA_INITS:
            raise UserError(f"--lora-init must be one of {', '.join(LORA_INITS)}, got {self.init!r}.")


def apply(model: nn.Module, config: LoraOptions) -> nn.Module:
    from peft import LoraConfig

    peft_config = LoraConfig(
        task_type=peft_task_type(model), r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=config.target_modules, use_dora=config.use_dora, use_rslora=config.use_rslora,
        init_lora_weights=True if config.init == "default" else config.init, modules_to_save=new_module_names(model),
    )
    return apply_peft(model, peft_config, "lora", "Check --lora-target-modules.")


SPEC = register_method(MethodSpec(
    name="lora", config_cls=LoraOptions, apply=apply, tasks=EVERY_TASK,
    description="Low-rank adapters on attention layers (peft); the base model stays frozen.", default_learning_rate=2e-3,
    quantized_base=True,
))

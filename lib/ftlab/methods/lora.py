"""LoRA (Hu et al., 2021) through `peft`: low-rank updates W + (alpha/r)·B·A on chosen linear layers."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ftlab.errors import UserError
from ftlab.methods.common import head_parameter_names
from ftlab.methods.registry import MethodSpec, register_method


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

    def __post_init__(self) -> None:
        if not isinstance(self.r, int) or self.r <= 0:
            raise UserError(f"--lora-r must be a positive whole number, got {self.r!r}; e.g. --lora-r 8.")
        if not (0 <= self.dropout < 1):
            raise UserError(f"--lora-dropout must be in [0, 1), got {self.dropout!r}.")
        if self.alpha <= 0:
            raise UserError(f"--lora-alpha must be positive, got {self.alpha!r}; e.g. --lora-alpha 16.")


_TASK_TYPES = {"classification": "SEQ_CLS", "ner": "TOKEN_CLS", "sft": "CAUSAL_LM"}


def apply(model: nn.Module, config: LoraOptions) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    # Newly initialised modules (head, pooler) must train: peft copies and trains `modules_to_save`.
    new_modules = sorted({name.rsplit(".", 1)[0] for name in head_parameter_names(model)})
    task = getattr(model, "ftlab_task", "classification")
    peft_config = LoraConfig(
        task_type=_TASK_TYPES[task], r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=config.target_modules, use_dora=config.use_dora, modules_to_save=new_modules or None,
    )
    try:
        return get_peft_model(model, peft_config)
    except ValueError as exc:
        raise UserError(f"LoRA could not be applied: {exc}. Check --lora-target-modules.") from exc


SPEC = register_method(MethodSpec(
    name="lora", config_cls=LoraOptions, apply=apply, tasks=frozenset({"classification", "ner", "sft"}),
    description="Low-rank adapters on attention layers (peft); the base model stays frozen.", default_learning_rate=2e-3,
))

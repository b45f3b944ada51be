"""IA3 (Liu et al., 2022, "Few-shot parameter-efficient fine-tuning is better and cheaper than in-context
learning") through `peft`: learned vectors that rescale the keys, the values and the feed-forward activations,
h ↦ l ⊙ h, with l initialised to ones; the rest of the model stays frozen."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ftlab.methods.common import EVERY_TASK, apply_peft, new_module_names, peft_task_type
from ftlab.methods.registry import MethodSpec, register_method


@dataclass
class IA3Options:
    target_modules: list[str] | str | None = None
    """Layers whose outputs (or, for feed-forward layers, inputs) are rescaled; unset uses peft's default for the
    architecture (BERT: key, value and the feed-forward output)."""
    feedforward_modules: list[str] | str | None = None
    """Which of the target modules are feed-forward layers (rescaled on their input); unset uses peft's default."""


def apply(model: nn.Module, config: IA3Options) -> nn.Module:
    from peft import IA3Config

    peft_config = IA3Config(task_type=peft_task_type(model), target_modules=config.target_modules,
                            feedforward_modules=config.feedforward_modules, modules_to_save=new_module_names(model))
    return apply_peft(model, peft_config, "ia3",
                      "Set both --ia3-target-modules and --ia3-feedforward-modules for this architecture.")


SPEC = register_method(MethodSpec(
    name="ia3", config_cls=IA3Options, apply=apply, tasks=EVERY_TASK,
    description="Learned rescaling vectors on keys, values and feed-forward activations (peft).",
    default_learning_rate=5e-3,
    quantized_base=True,
))

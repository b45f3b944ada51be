"""What pruning and quantization share: turning a run's saved model into one set of weights to compress, and the
file names of a compressed run's model folder.

A run's model comes back from `ftlab.model_files.load_model_from` in its method's shape. Before compression it is
made *plain* where that is possible: a LoRA or IA3 adapter is merged into the weights it adapts (peft's
`merge_and_unload`), so every layer is one ordinary `nn.Linear` again. Hand-written methods that add modules
(adapters, prefix tuning) keep them: the compressed model is rebuilt the way the run was (its architecture, the
method applied again) and then filled with its compressed weights. Soft prompts (prompt and P-tuning) live in peft's
wrapper, which cannot be merged into the weights, so those runs are refused.
"""

from __future__ import annotations

import copy
from typing import Literal

from torch import nn

from ftlab.errors import UserError
from ftlab.methods import get_method, list_methods

Structure = Literal["plain", "method"]
"""How a compressed model is rebuilt: `plain` is the task's model alone (full, freeze, BitFit, merged LoRA and
IA3); `method` applies the run's method to it again first (adapters, prefix tuning)."""

QUANTIZED_FILE = "quantized_int8.pt"
"""The int8 model's state dict (`torch.save`; safetensors cannot hold packed int8 parameters): the marker of the
int8 layout in `ftlab.model_files`."""
COMPRESSION_FILE = "compression.json"
"""How a compressed model was made and is rebuilt: its parent run, structure, pruning and quantization settings."""


def is_prompt_learning(model: nn.Module) -> bool:
    configs = getattr(model, "peft_config", None) or {}
    return any(getattr(config, "is_prompt_learning", False) for config in configs.values())


def check_compressible(method: str) -> None:
    """Refuse methods whose model cannot be rebuilt as one set of weights (see the module docstring)."""
    if method in ("prompt_tuning", "p_tuning"):
        supported = [m.name for m in list_methods() if m.name not in ("prompt_tuning", "p_tuning")]
        raise UserError(
            f"Runs of --method {method} cannot be compressed: their virtual tokens come from peft's prompt encoder, "
            f"which cannot be merged into the model's weights. Compress a run of {', '.join(supported)}.")


def merged_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` with any LoRA/IA3 adapter merged into its weights; `model` itself is not changed."""
    if is_prompt_learning(model):
        raise UserError("This model's soft prompt (prompt or P-tuning) lives in peft's wrapper, which cannot be merged "
                        "into the model's weights, so it cannot be compressed. Use a run of another method.")
    copied = copy.deepcopy(model)
    return copied.merge_and_unload() if hasattr(copied, "peft_config") else copied


def plain_model(model: nn.Module, method: str) -> tuple[nn.Module, Structure]:
    """(a merged copy of the run's model, how to rebuild it): see the module docstring."""
    check_compressible(method)
    structure: Structure = "method" if get_method(method).injects_modules else "plain"
    return merged_copy(model), structure

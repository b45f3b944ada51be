"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2020): a small down-project → non-linearity →
up-project block, h ↦ h + W_up·f(W_down·h), added after the attention output and/or the feed-forward output
of every layer; only the adapters and the task head train. The up-projection starts at zero, so training starts
from the pre-trained model exactly.

Hand-written, why: the `adapters` package pins transformers 4.x, which our transformers 5 pin excludes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

from ftlab.errors import UserError
from ftlab.methods.common import EVERY_TASK, freeze_all, hidden_size, transformer_blocks, unfreeze_head
from ftlab.methods.registry import MethodSpec, register_method

PLACES = {"houlsby": ("attention", "feed_forward"), "pfeiffer": ("feed_forward",)}
"""Where each configuration puts an adapter in a layer."""
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}
OUTPUT_PROJECTIONS = {
    "attention": ("attention.output.dense", "attention.out_lin", "self_attn.o_proj", "attn.c_proj"),
    "feed_forward": ("output.dense", "ffn.lin2", "mlp.down_proj", "mlp.c_proj"),
}
"""Names of the attention- and feed-forward output projections in a layer: BERT/RoBERTa/ELECTRA, DistilBERT,
Llama-style decoders, GPT-2. The adapter acts on the projection's output, before the residual connection."""


@dataclass
class AdapterOptions:
    config: str = "pfeiffer"
    """`pfeiffer`: one adapter per layer, after the feed-forward block; `houlsby`: also after the attention."""
    size: int = 64
    """Bottleneck width (the down-projection's output); must be smaller than the model's hidden size."""
    activation: str = "relu"
    """Non-linearity inside the bottleneck: `relu`, `gelu` or `tanh`."""

    def __post_init__(self) -> None:
        if self.config not in PLACES:
            raise UserError(f"--adapters-config must be one of {', '.join(PLACES)}, got {self.config!r}.")
        if not isinstance(self.size, int) or self.size < 1:
            raise UserError(f"--adapters-size must be a positive whole number, got {self.size!r}; e.g. 64.")
        if self.activation not in ACTIVATIONS:
            raise UserError(f"--adapters-activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}.")


class Bottleneck(nn.Module):
    def __init__(self, hidden: int, size: int, activation: str) -> None:
        super().__init__()
        self.down = nn.Linear(hidden, size)
        self.activation = ACTIVATIONS[activation]()
        self.up = nn.Linear(size, hidden)
        nn.init.normal_(self.down.weight, std=1e-2)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def add_to_output(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        return output + self.up(self.activation(self.down(output)))


def _projection(block: nn.Module, place: str) -> tuple[str, nn.Module]:
    modules = dict(block.named_modules())
    for name in OUTPUT_PROJECTIONS[place]:
        if name in modules:
            return name, modules[name]
    raise UserError(f"--method adapters does not know where the {place.replace('_', '-')} output is in "
                    f"{type(block).__name__}; it supports BERT-family, DistilBERT, Llama-style and GPT-2 layers. "
                    "Use --method lora for this model.")


def apply(model: nn.Module, config: AdapterOptions) -> nn.Module:
    hidden = hidden_size(model)
    if config.size >= hidden:
        raise UserError(f"--adapters-size {config.size} is not smaller than the model's hidden size {hidden}: a "
                        f"bottleneck must narrow. Use e.g. --adapters-size {max(hidden // 8, 1)}.")
    freeze_all(model)
    for block in transformer_blocks(model):
        for place in PLACES[config.config]:
            name, projection = _projection(block, place)
            adapter = Bottleneck(hidden, config.size, config.activation)
            # The adapter lives beside the projection (so the pre-trained weights keep their names) and acts
            # through a hook that is a bound method: deep copies of the model hook their own adapter.
            parent = block.get_submodule(name.rsplit(".", 1)[0]) if "." in name else block
            parent.add_module(f"adapter_{place}", adapter)
            projection.register_forward_hook(functools.partial(Bottleneck.add_to_output, adapter))
    unfreeze_head(model)
    return model


SPEC = register_method(MethodSpec(
    name="adapters", config_cls=AdapterOptions, apply=apply, tasks=EVERY_TASK,
    description="Bottleneck adapters after the feed-forward (pfeiffer) or also the attention (houlsby) blocks.",
    default_learning_rate=1e-3, injects_modules=True,
))

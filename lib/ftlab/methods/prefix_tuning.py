"""Prefix tuning (Li & Liang, 2021): n trainable key and value vectors are prepended in *every* attention layer,
so each layer's queries attend to [prefix ; sequence]; the model itself stays frozen. The prefix comes from
peft's `PrefixEncoder` (optionally reparametrised through a two-layer MLP, as in the paper).

Hand-written wiring, why: peft 0.21 refuses BERT under transformers 5.x ("Model does not support past key
values"), so the prefix is fed to each self-attention through the key/value `cache` argument it already accepts,
with the attention mask widened by the n prefix positions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ftlab.errors import UserError
from ftlab.methods.common import TEXT_CLASSIFICATION, freeze_all, transformer_blocks, unfreeze_head
from ftlab.methods.registry import MethodSpec, register_method


@dataclass
class PrefixTuningOptions:
    num_virtual_tokens: int = 20
    """Prefix length: key/value vectors added before the sequence in every layer."""
    projection: bool = False
    """Produce the prefix through a two-layer MLP (Li & Liang's reparametrisation, made for GPT-2); off learns the
    keys and values directly. Off by default: on the embedded MiniLM (250 steps, 2,000 reviews) the MLP never left
    the majority class at learning rates 1e-3 or 3e-3 (accuracy 0.496), while the direct prefix reached 0.695."""
    projection_hidden_size: int = 256
    """Hidden size of that MLP."""

    def __post_init__(self) -> None:
        if not isinstance(self.num_virtual_tokens, int) or self.num_virtual_tokens < 1:
            raise UserError(f"--prefix-tuning-num-virtual-tokens must be a whole number of 1 or more, got "
                            f"{self.num_virtual_tokens!r}; e.g. 20.")
        if not isinstance(self.projection_hidden_size, int) or self.projection_hidden_size < 1:
            raise UserError(f"--prefix-tuning-projection-hidden-size must be a positive whole number, got "
                            f"{self.projection_hidden_size!r}; e.g. 256.")


class _PrefixedCache:
    """Stands in for the key/value cache a self-attention accepts: it returns [prefix ; new] keys and values."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        self.keys, self.values = keys, values

    def update(self, keys: torch.Tensor, values: torch.Tensor, *args: Any, **kwargs: Any):
        return (torch.cat([self.keys.to(keys.dtype), keys], dim=2),
                torch.cat([self.values.to(values.dtype), values], dim=2))


class PrefixKeyValues(nn.Module):
    """The trainable prefix of every layer, and the pre-hooks that hand it to each self-attention."""

    def __init__(self, options: PrefixTuningOptions, num_layers: int, num_heads: int, head_dim: int) -> None:
        super().__init__()
        from peft import PrefixEncoder, PrefixTuningConfig

        config = PrefixTuningConfig(num_virtual_tokens=options.num_virtual_tokens, token_dim=num_heads * head_dim,
                                    num_layers=num_layers, encoder_hidden_size=options.projection_hidden_size,
                                    prefix_projection=options.projection, num_attention_heads=num_heads)
        self.encoder = PrefixEncoder(config)
        self.shape = (options.num_virtual_tokens, num_layers, 2, num_heads, head_dim)
        self._prefix: torch.Tensor | None = None
        """Every layer's prefix, computed once per forward pass (the encoder's MLP would otherwise run per layer)."""

    def layer_prefix(self, layer: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of one layer, shaped (batch, heads, n, head_dim) like the attention's own."""
        if layer == 0 or self._prefix is None:  # the first layer's hook runs first in every forward pass
            positions = torch.arange(self.shape[0], device=self.encoder.embedding.weight.device)
            self._prefix = self.encoder(positions).view(*self.shape)  # (n, layers, 2, heads, head_dim)
        keys, values = self._prefix[:, layer].permute(1, 2, 0, 3).unbind(0)
        if layer == self.shape[1] - 1:
            self._prefix = None  # hold no autograd graph between passes (and keep the module deep-copyable)
        return keys.expand(batch, -1, -1, -1), values.expand(batch, -1, -1, -1)

    def inject(self, layer: int, module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if kwargs.get("cache") is not None:
            raise UserError("--method prefix_tuning cannot run with a key/value cache (generation); it is for "
                            "classification encoders.")
        hidden = args[0] if args else kwargs["hidden_states"]
        kwargs["cache"] = _PrefixedCache(*self.layer_prefix(layer, hidden.shape[0]))
        mask = kwargs.get("attention_mask")
        if mask is not None:  # every query may attend to every prefix position
            visible = True if mask.dtype == torch.bool else 0.0
            pad = torch.full((*mask.shape[:-1], self.shape[0]), visible, dtype=mask.dtype, device=mask.device)
            kwargs["attention_mask"] = torch.cat([pad, mask], dim=-1)
        return args, kwargs


def self_attentions(model: nn.Module) -> list[nn.Module]:
    """The self-attention module of each transformer block (BERT-family layout: `key`, `value`, heads)."""
    found = []
    for block in transformer_blocks(model):
        attentions = [m for m in block.modules()
                      if hasattr(m, "key") and hasattr(m, "value") and hasattr(m, "attention_head_size")]
        if len(attentions) != 1:
            raise UserError(f"--method prefix_tuning supports BERT-family encoders (BERT, RoBERTa, ELECTRA...); "
                            f"{type(model).__name__} has another attention layout. Use --method prompt_tuning or lora.")
        found.append(attentions[0])
    return found


def apply(model: nn.Module, config: PrefixTuningOptions) -> nn.Module:
    attentions = self_attentions(model)
    first = attentions[0]
    freeze_all(model)
    model.ftlab_prefix = PrefixKeyValues(config, len(attentions), first.num_attention_heads, first.attention_head_size)
    for layer, attention in enumerate(attentions):
        # A partial of a bound method (not a closure), so that deep copies of the model hook their own prefix.
        attention.register_forward_pre_hook(functools.partial(model.ftlab_prefix.inject, layer), with_kwargs=True)
    unfreeze_head(model)
    return model


SPEC = register_method(MethodSpec(
    name="prefix_tuning", config_cls=PrefixTuningOptions, apply=apply, tasks=TEXT_CLASSIFICATION,
    description="Trainable key/value prefixes in every attention layer; the model stays frozen.",
    default_learning_rate=1e-2, injects_modules=True,
))

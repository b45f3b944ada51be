"""Helpers the methods share: finding the task head and the transformer blocks of any HF model."""

from __future__ import annotations

from torch import nn


def freeze_all(model: nn.Module) -> None:
    for param in model.parameters():
        param.requires_grad_(False)


def head_parameter_names(model: nn.Module) -> set[str]:
    """Parameters outside the pre-trained body, plus any the checkpoint did not have (e.g. BERT's pooler in a
    sentence-transformers checkpoint): those start random, so every method must train them."""
    prefix = getattr(model, "base_model_prefix", "")
    new = set(getattr(model, "ftlab_new_parameters", ()))
    return {name for name, _ in model.named_parameters() if not name.startswith(prefix + ".") or name in new}


def unfreeze_head(model: nn.Module) -> None:
    heads = head_parameter_names(model)
    for name, param in model.named_parameters():
        if name in heads:
            param.requires_grad_(True)


def transformer_blocks(model: nn.Module) -> nn.ModuleList:
    """The longest ModuleList in the model: the stack of transformer layers for every common architecture."""
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList)]
    if not lists:
        raise ValueError(f"{type(model).__name__} has no stack of layers to freeze")
    return max(lists, key=len)


def count_parameters(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total}

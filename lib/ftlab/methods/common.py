"""Helpers the methods share: finding the task head and the transformer blocks of any HF model."""

from __future__ import annotations

from torch import nn

from ftlab.errors import UserError


TEXT_CLASSIFICATION = frozenset({"classification", "multitask"})
"""Tasks with one label per text (per head): what a method that only works on sequence classifiers supports."""
EVERY_TASK = TEXT_CLASSIFICATION | {"ner", "sft"}


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


def new_module_names(model: nn.Module) -> list[str] | None:
    """Modules holding the head's (and any newly initialised) parameters, for peft's `modules_to_save`: peft
    freezes everything else, and those start random, so they must train."""
    names = sorted({name.rsplit(".", 1)[0] for name in head_parameter_names(model)})
    return names or None


def peft_task_type(model: nn.Module) -> str:
    task = getattr(model, "ftlab_task", "classification")
    return {"ner": "TOKEN_CLS", "sft": "CAUSAL_LM"}.get(task, "SEQ_CLS")


def apply_peft(model: nn.Module, peft_config, method: str, fix: str) -> nn.Module:
    """`peft.get_peft_model` with peft's refusals turned into a clear error naming the method and the fix."""
    from peft import get_peft_model

    try:
        return get_peft_model(model, peft_config)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise UserError(f"--method {method} could not be applied to {type(model).__name__}: {exc}. {fix}") from exc


def hidden_size(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    size = getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or getattr(config, "dim", None)
    if not isinstance(size, int):
        raise UserError(f"Cannot tell the hidden size of {type(model).__name__}; this method needs a transformer "
                        "whose config has hidden_size (e.g. --model minilm).")
    return size

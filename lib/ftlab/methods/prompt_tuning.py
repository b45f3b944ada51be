"""Prompt tuning (Lester et al., 2021) through `peft`: n trainable "soft prompt" vectors are prepended to the
input embeddings; the model itself stays frozen. Only the input layer is touched (prefix tuning, by contrast,
adds keys and values in every layer)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ftlab.errors import UserError
from ftlab.methods.common import TEXT_CLASSIFICATION, apply_peft, new_module_names, peft_task_type
from ftlab.methods.registry import MethodSpec, register_method


@dataclass
class PromptTuningOptions:
    num_virtual_tokens: int = 20
    """Length of the soft prompt, in embedding vectors."""
    init_text: str | None = None
    """Start the prompt from the embeddings of this text (e.g. "Classify the sentiment of this review:"), repeated
    or cut to the prompt's length; unset starts from random vectors."""

    def __post_init__(self) -> None:
        if not isinstance(self.num_virtual_tokens, int) or self.num_virtual_tokens < 1:
            raise UserError(f"--prompt-tuning-num-virtual-tokens must be a whole number of 1 or more, got "
                            f"{self.num_virtual_tokens!r}; e.g. 20.")
        if self.init_text is not None and not str(self.init_text).strip():
            raise UserError("--prompt-tuning-init-text is empty; give a short instruction or leave it out.")


def apply(model: nn.Module, config: PromptTuningOptions) -> nn.Module:
    from peft import PromptTuningConfig

    from_text = {}
    if config.init_text:
        from_text = {"prompt_tuning_init": "TEXT", "prompt_tuning_init_text": config.init_text,
                     "tokenizer_name_or_path": model.config.name_or_path}
    peft_config = PromptTuningConfig(task_type=peft_task_type(model), num_virtual_tokens=config.num_virtual_tokens,
                                     modules_to_save=new_module_names(model), **from_text)
    return apply_peft(model, peft_config, "prompt_tuning", "Use --method lora for this model.")


SPEC = register_method(MethodSpec(
    name="prompt_tuning", config_cls=PromptTuningOptions, apply=apply, tasks=TEXT_CLASSIFICATION,
    description="Trainable soft-prompt vectors before the input embeddings (peft); the model stays frozen.",
    default_learning_rate=3e-2,
))

"""Integrated gradients: `captum`'s `LayerIntegratedGradients` on the model's input embedding layer.

The path runs from a baseline of pad tokens (with [CLS]/[SEP] kept, so the baseline is still a well-formed input)
to the text. The explained output is the softmax probability of the target class rather than its logit, so that IG
is in the same units as SHAP and LIME; its completeness check (the convergence delta) then compares the summed
attributions with the probability difference f(text) - f(baseline). `get_input_embeddings()` also reaches through
a peft wrapper, so LoRA runs work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ftlab.explain.model_fn import ClassifierFn
from ftlab.explain.words import Words, to_words


@dataclass(frozen=True)
class IGResult:
    attributions: np.ndarray
    """Per word, for the target class."""
    delta: float
    """Convergence delta: sum of attributions minus (f(text) - f(baseline)); near 0 when n_steps suffices."""


def explain_ig(fn: ClassifierFn, words: Words, target: int, *, n_steps: int = 50,
               internal_batch_size: int = 64) -> IGResult:
    from captum.attr import LayerIntegratedGradients

    model, tokenizer = fn.model, fn.tokenizer
    device = next(model.parameters()).device
    encoded = tokenizer(words.text, truncation=True, max_length=fn.max_length, return_offsets_mapping=True,
                        return_special_tokens_mask=True, return_tensors="pt")
    input_ids = encoded["input_ids"].to(device)
    attention_mask = encoded["attention_mask"].to(device)
    special = encoded["special_tokens_mask"].bool().to(device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    baseline = torch.where(special, input_ids, torch.full_like(input_ids, pad))

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)

    lig = LayerIntegratedGradients(forward, model.get_input_embeddings())
    with torch.enable_grad():
        attributions, delta = lig.attribute(input_ids, baselines=baseline, target=target,
                                            additional_forward_args=(attention_mask,), n_steps=n_steps,
                                            internal_batch_size=internal_batch_size, return_convergence_delta=True)
    token_scores = attributions.sum(dim=-1)[0].detach().cpu().numpy()
    spans = [(int(a), int(b)) for a, b in encoded["offset_mapping"][0].tolist()]
    return IGResult(to_words(words, spans, token_scores), float(delta.abs().max()))

"""Integrated gradients: `captum`'s `IntegratedGradients` on the model's word embeddings.

The path runs from a baseline of pad tokens (with [CLS]/[SEP] kept, so the baseline is still a well-formed input)
to the text. It is integrated over the output of the input embedding layer, fed to the model as `inputs_embeds`:
the same attributions as `LayerIntegratedGradients` on that layer (a test checks they are equal), without the two
full forward passes LIG spends reading the layer's values for the text and the baseline.

The explained output is the softmax probability of the target class rather than its logit, so that IG is in the
same units as SHAP and LIME; its completeness check (the convergence delta) compares the summed attributions with
the probability difference f(text) - f(baseline), both endpoints scored in one batch. `get_input_embeddings()` also
reaches through a peft wrapper, so LoRA runs work unchanged.
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
    from captum.attr import IntegratedGradients

    model, tokenizer = fn.model, fn.tokenizer
    device = next(model.parameters()).device
    encoded = tokenizer(words.text, truncation=True, max_length=fn.max_length, return_offsets_mapping=True,
                        return_special_tokens_mask=True, return_tensors="pt")
    input_ids = encoded["input_ids"].to(device)
    attention_mask = encoded["attention_mask"].to(device)
    special = encoded["special_tokens_mask"].bool().to(device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    baseline_ids = torch.where(special, input_ids, torch.full_like(input_ids, pad))
    with torch.no_grad():
        embeddings, baseline = (model.get_input_embeddings()(ids) for ids in (input_ids, baseline_ids))

    def probabilities(inputs_embeds: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.expand(inputs_embeds.shape[0], -1)
        return torch.softmax(model(inputs_embeds=inputs_embeds, attention_mask=mask).logits.float(), dim=-1)

    with torch.enable_grad():
        attributions = IntegratedGradients(probabilities).attribute(
            embeddings, baselines=baseline, target=target, n_steps=n_steps, internal_batch_size=internal_batch_size)
    with torch.inference_mode():
        ends = probabilities(torch.cat([embeddings, baseline]))[:, target]
    token_scores = attributions.sum(dim=-1)[0].detach().float().cpu().numpy()
    delta = float(token_scores.sum()) - float(ends[0] - ends[1])
    spans = [(int(a), int(b)) for a, b in encoded["offset_mapping"][0].tolist()]
    return IGResult(to_words(words, spans, token_scores), abs(delta))

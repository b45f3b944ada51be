"""Integrated gradients: `captum`'s `IntegratedGradients` on the model's word embeddings.

The path runs from a baseline of pad tokens (with [CLS]/[SEP] kept, so the baseline is still a well-formed input)
to the text. It is integrated over the output of the input embedding layer, fed to the model as `inputs_embeds`:
the same attributions as `LayerIntegratedGradients` on that layer (a test checks they are equal), without the two
full forward passes LIG spends reading the layer's values for the text and the baseline.

The explained output is a probability rather than a logit, so that IG is in the same units as SHAP and LIME: the
target class's for a classifier (`explain_ig`), an entity's tags' for a token classifier (`ftlab.explain.entity`).
Its completeness check (the convergence delta) compares the summed attributions with the output's difference
f(text) - f(baseline), both endpoints scored in one batch. `get_input_embeddings()` also reaches through a peft
wrapper, so LoRA runs work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ftlab.errors import UserError
from ftlab.explain.model_fn import ClassifierFn
from ftlab.explain.words import Words, word_index_of_spans

Output = Callable[[torch.Tensor], torch.Tensor]
"""The model's logits for a batch of inputs -> the explained number per input (shape [batch])."""


@dataclass(frozen=True)
class IGResult:
    attributions: np.ndarray
    """Per word, for the explained output."""
    delta: float
    """Convergence delta: sum of attributions minus (f(text) - f(baseline)); near 0 when n_steps suffices."""


def encode_words(tokenizer: Any, words: Words, max_length: int, *, split_into_words: bool = False) -> tuple[Any, list]:
    """(the tokenizer's encoding of the text, the word index of each token or None): the text tokenized as a string
    (a classifier's way, words found through the offsets), or word by word (`split_into_words`, a token
    classifier's way, as it was trained)."""
    if split_into_words:
        encoded = tokenizer(list(words.words), is_split_into_words=True, truncation=True, max_length=max_length,
                            return_special_tokens_mask=True, return_tensors="pt")
        return encoded, encoded.word_ids(0)
    encoded = tokenizer(words.text, truncation=True, max_length=max_length, return_offsets_mapping=True,
                        return_special_tokens_mask=True, return_tensors="pt")
    return encoded, word_index_of_spans(words, [(int(a), int(b)) for a, b in encoded["offset_mapping"][0].tolist()])


def integrated_gradients(model: Any, encoded: Any, word_of_token: list, n_words: int, output: Output, *,
                         pad_token_id: int | None, n_steps: int = 50, internal_batch_size: int = 64) -> IGResult:
    """IG of `output` over the words of an encoded text (`encode_words`), from the pad-token baseline."""
    from captum.attr import IntegratedGradients

    from ftlab.compress.quantize import is_int8

    if is_int8(model):  # a run made by `ftlab compress --int8`: torch's int8 kernels have no gradients
        raise UserError("Integrated gradients needs the model's gradients, and this run's int8 layers have none. "
                        "Explain it with --explainer shap or lime, or explain its fp32 parent run.")
    device = next(model.parameters()).device
    input_ids = encoded["input_ids"].to(device)
    attention_mask = encoded["attention_mask"].to(device)
    special = encoded["special_tokens_mask"].bool().to(device)
    baseline_ids = torch.where(special, input_ids, torch.full_like(input_ids, pad_token_id or 0))
    with torch.no_grad():
        embeddings, baseline = (model.get_input_embeddings()(ids) for ids in (input_ids, baseline_ids))

    def explained(inputs_embeds: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.expand(inputs_embeds.shape[0], -1)
        return output(model(inputs_embeds=inputs_embeds, attention_mask=mask).logits.float())

    with torch.enable_grad():
        attributions = IntegratedGradients(explained).attribute(
            embeddings, baselines=baseline, n_steps=n_steps, internal_batch_size=internal_batch_size)
    with torch.inference_mode():
        ends = explained(torch.cat([embeddings, baseline]))
    token_scores = attributions.sum(dim=-1)[0].detach().float().cpu().numpy()
    delta = float(token_scores.sum()) - float(ends[0] - ends[1])
    per_word = np.zeros(n_words)
    for word, score in zip(word_of_token, token_scores):
        if word is not None:  # special tokens belong to no word
            per_word[word] += float(score)
    return IGResult(per_word, abs(delta))


def explain_ig(fn: ClassifierFn, words: Words, target: int, *, n_steps: int = 50,
               internal_batch_size: int = 64) -> IGResult:
    """IG of a classifier's probability of class `target`."""
    encoded, word_of_token = encode_words(fn.tokenizer, words, fn.max_length)
    return integrated_gradients(fn.model, encoded, word_of_token, len(words),
                                lambda logits: torch.softmax(logits, dim=-1)[:, target],
                                pad_token_id=fn.tokenizer.pad_token_id, n_steps=n_steps,
                                internal_batch_size=internal_batch_size)

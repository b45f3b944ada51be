"""A faster copy of the model for explanations (`explain(..., fast=True)`, `ftlab explain --fast`).

Where bf16 matrix products are fast (a GPU with bf16, or a CPU with AVX512-BF16 or AMX) the copy is bfloat16, for
all three methods: measured on the benchmark's fine-tuned MiniLM on such a CPU, it runs forward 2.4x faster than
float32 and its probabilities stay within 0.005 of the full model's. Elsewhere SHAP and LIME, which only call the
model forward, get an int8 copy (torch's dynamic quantisation of the linear layers: int8 weights, activations
quantised per batch); int8 kernels have no gradients, so integrated gradients keeps the full model there. The
int8 copy is the rougher one: on that MiniLM its probabilities moved by 0.03 at the median and up to 0.2.

So a copy explains a text only where its probabilities for that text agree with the full model's within
`AGREEMENT`; otherwise the full model does. An explanation's `precision` says, per method, which model explained
it, and `copy_probability` what the copy predicted.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ftlab.explain.model_fn import ClassifierFn

log = logging.getLogger("ftlab")

AGREEMENT = 0.01
"""Largest difference in any class probability, fast copy against full model, at which the copy is used: the
tolerance of SHAP's additivity check, so that fast SHAP values also add up to the full model's probability."""
FULL = "fp32"
FORWARD_ONLY = ("shap", "lime")


def bf16_is_fast(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def plain_copy(model: Any) -> Any:
    """A copy of the model with any LoRA adapter merged into its weights: one matrix product per layer instead of
    three, and plain `nn.Linear` layers for quantisation to replace."""
    copied = copy.deepcopy(model)
    return copied.merge_and_unload() if hasattr(copied, "merge_and_unload") else copied


def int8_copy(model: Any) -> Any:
    """The model with every `nn.Linear` swapped for torch's dynamically quantised int8 one (CPU only)."""
    model = plain_copy(model).float().eval()
    with warnings.catch_warnings():
        # torch marks its eager quantisation deprecated in favour of torchao; with the pinned torch it is the one
        # whose x86 int8 kernels (fbgemm) are fast on a CPU, which is all this copy is for.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def bf16_copy(model: Any) -> Any:
    return plain_copy(model).to(torch.bfloat16).eval()


@dataclass
class FastModels:
    """The fast copies of one `ClassifierFn`'s model, built on first use and kept for the next texts."""

    full: ClassifierFn
    _copies: dict[str, ClassifierFn | None] = field(default_factory=dict)

    def precision_for(self, method: str) -> str:
        """The precision `method` would run in on this hardware before the agreement check ("fp32": no copy)."""
        device = next(self.full.model.parameters()).device
        if bf16_is_fast(device):
            return "bf16"
        return "int8" if method in FORWARD_ONLY and device.type == "cpu" else FULL

    def fn_for(self, method: str, text: str) -> tuple[ClassifierFn, str]:
        """(the model function that explains `text` with `method`, its precision)."""
        precision = self.precision_for(method)
        if precision == FULL:
            return self.full, FULL
        fast = self._copy(precision)
        gap = float(np.abs(fast([text]) - self.full([text])).max())
        if gap > AGREEMENT:
            log.info("the %s copy's probabilities differ by %.3f from the full model's on this text (limit %.2f): "
                     "%s explains it with the full model", precision, gap, AGREEMENT, method)
            return self.full, FULL
        return fast, precision

    def _copy(self, precision: str) -> ClassifierFn:
        if precision not in self._copies:
            build = int8_copy if precision == "int8" else bf16_copy
            # A copy shares the tokenizer, labels and progress hook; its calls count toward the same progress.
            self._copies[precision] = replace(self.full, model=build(self.full.model))
        return self._copies[precision]


def fast_models(fn: ClassifierFn) -> FastModels:
    """The `FastModels` kept on `fn`, so a cached `ClassifierFn` builds its copies once."""
    if getattr(fn, "_fast_models", None) is None:
        fn._fast_models = FastModels(fn)  # type: ignore[attr-defined]
    return fn._fast_models  # type: ignore[attr-defined]

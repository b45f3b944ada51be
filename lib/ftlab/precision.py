"""Mixed precision (`--precision`): the number format a run's matrix products use, chosen by what the device can
do, and the format that actually ran, read from the activations.

- `fp32`: every operation in float32 (8 exponent bits, 23 mantissa bits).
- `bf16`: autocast runs the matrix products in bfloat16 (8 exponent bits, 7 mantissa bits): fp32's range with a
  coarser step, so gradients neither overflow nor underflow and no loss scaling is needed. Native on GPUs from
  Ampere on and on CPUs with AVX512-BF16 or AMX; a CPU without bf16 units emulates it (a MiniLM step measured
  about 5x slower than fp32 on such a CPU, PERF-NOTES).
- `fp16`: autocast to float16 (5 exponent bits, 10 mantissa bits): gradients below ~6e-8 flush to zero, so the
  Trainer's grad scaler multiplies the loss by a large factor before backward and divides the gradients after,
  skipping a step whose gradients overflowed. CUDA only.
- `auto`: bf16 on a GPU that has it, else fp16 on CUDA, else fp32: on a CPU the gain depends on its bf16 units
  and on what else shares its cores, so a CPU run asks for bf16 explicitly (notebook 13 measures it).

In every mode the weights and the optimizer state stay fp32 ("master weights"): autocast casts per operation. So
the weights cannot tell which precision ran; the activations can, and `PrecisionProbe` reads them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback

from ftlab import tracking
from ftlab.config import PRECISIONS
from ftlab.errors import UserError

__all__ = ["PRECISIONS", "PrecisionProbe", "precision_args", "resolve_precision"]
DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def resolve_precision(requested: str) -> str:
    """The precision this machine will run for `requested` (fp32, bf16 or fp16); a UserError when it cannot."""
    cuda = torch.cuda.is_available()
    # Emulated bf16 on a pre-Ampere GPU is slower than fp32, so only native support counts.
    native_bf16 = cuda and torch.cuda.is_bf16_supported(including_emulation=False)
    if requested == "auto":
        return "bf16" if native_bf16 else "fp16" if cuda else "fp32"
    if requested == "fp16" and not cuda:
        raise UserError("--precision fp16 needs a CUDA GPU (its loss scaling runs on the GPU's grad scaler) and none "
                        "is visible here; on a CPU use --precision fp32, or bf16 (autocast: slower than fp32 on CPUs "
                        "without bf16 units).")
    if requested == "bf16" and cuda and not native_bf16:
        raise UserError(f"--precision bf16: this GPU ({torch.cuda.get_device_name()}) has no native bf16 (Ampere and "
                        "newer GPUs have it); use --precision fp16, which scales the loss, or --precision auto.")
    return requested


def precision_args(precision: str) -> dict[str, Any]:
    """`TrainingArguments` for a resolved precision. On a CPU the Trainer autocasts to bf16 only with `use_cpu`."""
    args: dict[str, Any] = {"bf16": precision == "bf16", "fp16": precision == "fp16"}
    if precision == "bf16" and not torch.cuda.is_available():
        args["use_cpu"] = True
    return args


def dtype_name(dtype: torch.dtype) -> str:
    return DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))


def probe_layer(model: nn.Module) -> nn.Module:
    """The first `nn.Linear` of the model (in a BERT, the first layer's attention query, inside the encoder); the
    whole model when it has none (its output's dtype then tells)."""
    return next((m for m in model.modules() if isinstance(m, nn.Linear)), model)


def _first_float(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output if output.is_floating_point() else None
    values = output.values() if isinstance(output, dict) else output if isinstance(output, (tuple, list)) else []
    return next((t for t in map(_first_float, values) if t is not None), None)


class PrecisionProbe(TrainerCallback):
    """Records the precision that ran: the output dtype of `probe_layer` on the first training forward pass, logged
    as the run's `precision` tag (rank 0). The request is a param (`precision`); this is the observation."""

    def __init__(self, mlflow_run_id: str | None) -> None:
        self.mlflow_run_id = mlflow_run_id
        self.observed: str | None = None
        self._handle: Any = None
        self._logged = False

    def attach(self, model: nn.Module) -> None:
        self.observed, self._logged = None, False
        self._handle = probe_layer(model).register_forward_hook(self._seen)

    def _seen(self, module: nn.Module, inputs: Any, output: Any) -> None:
        tensor = _first_float(output)
        if module.training and tensor is not None and self.observed is None:
            self.observed = dtype_name(tensor.dtype)
            self.detach()

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.attach(model)

    def on_step_end(self, args, state, control, **kwargs):
        if self.observed and not self._logged and state.is_world_process_zero and self.mlflow_run_id:
            tracking.set_tags(self.mlflow_run_id, {"precision": self.observed})
            self._logged = True

    def on_train_end(self, args, state, control, **kwargs):
        self.detach()

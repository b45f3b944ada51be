"""Post-training quantization.

**CPU: dynamic int8** (`torch.ao.quantization.quantize_dynamic`). A float x is stored as an 8-bit integer q with a
scale s and zero point z, x ≈ s·(q − z). Every `nn.Linear` weight is quantized once, per output channel and
symmetrically (z = 0, so pruned zeros stay zeros); its input activations are quantized on the fly, per batch, from
their observed range ("dynamic": no calibration data, unlike static quantization, which fixes the activation
scales beforehand from a calibration set and also quantizes the operations between layers). The matrix products
run in int8 (fbgemm/onednn kernels) and are rescaled to float. The word-embedding table, the largest tensor of a
small encoder, is stored in int8 too (one scale per row; a lookup needs no kernel), unless it is tied to an
output layer. LayerNorm, softmax and the other embeddings stay float.

The model is saved as its state dict with `torch.save` (safetensors cannot hold packed int8 parameters) and read
back with `torch.load(weights_only=True)` into a freshly quantized copy of the same architecture.

**GPU: 8-bit and 4-bit loading** through bitsandbytes (`bitsandbytes_config`): LLM.int8() or NF4 weights, loaded
quantized by `from_pretrained(quantization_config=...)`; the same config makes a QLoRA base (4-bit frozen base +
LoRA). It needs a CUDA GPU and the `bitsandbytes` package, which ftlab does not install (it has no CPU use here):
`pip install bitsandbytes` on a GPU machine.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ftlab.compress.common import COMPRESSION_FILE, QUANTIZED_FILE, merged_copy
from ftlab.errors import UserError

KBIT = (8, 4)


def input_embedding_name(model: nn.Module) -> str | None:
    """The qualified name of the model's word-embedding table, or None where it cannot be stored in int8 (absent,
    not an `nn.Embedding`, or tied to an output layer that would lose its weight)."""
    getter = getattr(model, "get_input_embeddings", None)
    embedding = getter() if getter else None
    if not isinstance(embedding, nn.Embedding):
        return None
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is not None and getattr(output, "weight", None) is embedding.weight:
        return None
    return next(name for name, module in model.named_modules() if module is embedding)


def quantize_dynamic_int8(model: nn.Module, *, embeddings: bool = True) -> nn.Module:
    """An int8 copy of `model` for CPU inference (see the module docstring); `model` is not changed.

    A LoRA or IA3 adapter is merged into its weights first; a soft-prompt model is refused with a UserError.
    `embeddings=False` keeps the word embeddings in float (only the Linear layers quantized).

    >>> model, *_ = ftlab.load_trained("full-rt-demo")  # doctest: +SKIP
    >>> int8 = quantize_dynamic_int8(model)  # doctest: +SKIP
    """
    from torch.ao.quantization import float_qparams_weight_only_qconfig, per_channel_dynamic_qconfig

    plain = merged_copy(model).float().cpu().eval()
    spec: dict[Any, Any] = {nn.Linear: per_channel_dynamic_qconfig}
    name = input_embedding_name(plain) if embeddings else None
    if name is not None:
        spec[name] = float_qparams_weight_only_qconfig
    with warnings.catch_warnings():
        # torch marks its eager quantization deprecated in favour of torchao, which is not installed; this is the
        # API whose x86 int8 kernels ship with the pinned torch.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="torch.ao")
        return torch.ao.quantization.quantize_dynamic(plain, spec, dtype=torch.qint8, inplace=True)


def is_int8(model: nn.Module) -> bool:
    return any(type(module).__module__.startswith("torch.ao.nn.quantized") for module in model.modules())


def save_int8(model: nn.Module, folder: Path) -> Path:
    """The quantized state dict (the int8 layout's marker file) and the model's config.json, naming the model's
    own class (a config loaded from a base checkpoint may name the bare encoder)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / QUANTIZED_FILE
    torch.save(model.state_dict(), path)
    model_config = copy.deepcopy(model.config)
    model_config.architectures = [type(model).__name__]
    model_config.save_pretrained(folder)
    return path


def load_int8(model_dir: Path, config: Any, labels: list[str], task: Any) -> nn.Module:
    """The int8 model of a compressed run: its architecture built from its own config.json (so a distilled
    student keeps its layer count, and no base weights are read), the run's method applied again where its
    structure says so, quantized, then filled from the saved int8 state dict."""
    from ftlab.methods import get_method

    info_path = model_dir / COMPRESSION_FILE
    if not info_path.is_file():
        raise UserError(f"{model_dir} holds {QUANTIZED_FILE} but no {COMPRESSION_FILE}: the compressed run is "
                        "incomplete. Compress its parent run again with `ftlab compress`.")
    info = json.loads(info_path.read_text())
    model = _architecture(model_dir)
    model.ftlab_task = task.name
    if info.get("structure") == "method":
        method = get_method(config.method)
        model = method.apply(model, method.make_config(config.method_options))
    model = quantize_dynamic_int8(model, embeddings=bool(info.get("int8_embeddings", True)))
    state = torch.load(model_dir / QUANTIZED_FILE, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise UserError(f"{model_dir / QUANTIZED_FILE} does not fit the architecture in its config.json "
                        f"({str(exc).splitlines()[0]}); the compressed run is damaged. Compress its parent run "
                        "again.") from exc
    return model.eval()


def _architecture(model_dir: Path) -> nn.Module:
    """A float model of the class and shape config.json names (random weights: every one is overwritten). The class
    is looked up in transformers itself, never imported from a name in a file."""
    import transformers

    model_config = transformers.AutoConfig.from_pretrained(model_dir)
    name = (getattr(model_config, "architectures", None) or [""])[0]
    model_class = getattr(transformers, name, None) if name else None
    if model_class is None:
        raise UserError(f"{model_dir / 'config.json'} names the architecture {name!r}, which transformers does not "
                        "provide, so the int8 model cannot be rebuilt. Compress a run of a transformers model.")
    return model_class(model_config).float()


def bitsandbytes_config(bits: int, *, flag: str | None = None,
                        instead: str = "On a CPU, use --int8 (torch's dynamic int8 quantization).",
                        keep: list[str] | None = None) -> Any:
    """transformers' `BitsAndBytesConfig` for loading weights in 8-bit (LLM.int8()) or 4-bit (NF4, double
    quantization, bf16 compute where the GPU has it: QLoRA's recipe). A UserError names what is missing without a
    CUDA GPU and the bitsandbytes package: `flag` is the user's flag, `instead` what to do on a CPU. `keep`: names
    of modules left unquantized (transformers' default keeps only the output layer)."""
    flag = flag or f"--load-in-{bits}bit"
    if bits not in KBIT:
        raise UserError(f"k-bit loading takes 8 or 4 bits, not {bits!r}: use --load-in-8bit or --load-in-4bit.")
    missing = [need for need, ok in [("a CUDA GPU (torch sees none)", torch.cuda.is_available()),
                                     ("the bitsandbytes package (`pip install bitsandbytes`; ftlab does not install "
                                      "it)", importlib.util.find_spec("bitsandbytes") is not None)] if not ok]
    if missing:
        raise UserError(f"{flag} loads the weights in {bits}-bit through bitsandbytes, which needs "
                        f"{' and '.join(missing)}. {instead}")
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=keep)
    compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16  # pre-Ampere GPUs lack bf16
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute, llm_int8_skip_modules=keep)


def quantized_base_options(bits: int) -> dict[str, Any]:
    """`from_pretrained` options that load a base model for QLoRA-style training (--load-in-bits): the k-bit
    config, and this process's GPU for every weight (under torchrun, the process's own)."""
    import os

    # The heads (and a pooler the checkpoint may lack) start random and train: they must stay in full precision.
    quantization = bitsandbytes_config(bits, flag=f"--load-in-bits {bits}", instead="On a CPU, leave --load-in-bits "
                                       "out.", keep=["classifier", "pooler", "score", "lm_head"])
    return {"quantization_config": quantization,
            "device_map": {"": int(os.environ.get("LOCAL_RANK", 0))}}


def prepare_quantized_base(model: nn.Module) -> nn.Module:
    """peft's preparation of a k-bit model for training: every weight frozen and the ones left unquantized (norms,
    embeddings, the new head) upcast to fp32; the method then makes its own weights (and the head) trainable."""
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def load_in_kbit(model: nn.Module, bits: int) -> nn.Module:
    """A plain (merged) fp32 model reloaded on the GPU with its Linear weights in `bits` bits: bitsandbytes
    quantizes while `from_pretrained` loads, so the model goes through a temporary folder. Saved with
    `save_pretrained`, it reloads quantized from its folder (its config.json carries the quantization config)."""
    quantization = bitsandbytes_config(bits)
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        return type(model).from_pretrained(folder, quantization_config=quantization, device_map={"": 0}).eval()

"""The embedded causal language model (SmolLM2-135M-Instruct) and what every causal LM needs from us: a chat
template and a pad token.

SmolLM2 ships on the package index only as a 4-bit GGUF file. Transformers dequantizes GGUF through the `gguf`
package, which takes ~15-30 s, so the first use converts it once into an ordinary fp32 safetensors folder in the
asset cache (~0.5 GB); every later load reads that folder in well under a second.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ftlab.assets import asset_file
from ftlab.home import assets_dir
from ftlab.models import ModelSpec, register_model

log = logging.getLogger("ftlab")

CONVERTED_DIR = "smollm2-135m-instruct-fp32"
"""The converted folder's name in the asset cache."""

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""SmolLM2's own ChatML template (as its GGUF carries it), the fallback for a tokenizer that has none."""


def smollm2_folder() -> Path:
    """The fp32 safetensors folder of SmolLM2-135M-Instruct, converted from the embedded GGUF on first use."""
    dest = assets_dir() / CONVERTED_DIR
    if (dest / "config.json").is_file() and any(dest.glob("*.safetensors")):
        return dest
    gguf = asset_file("smollm2")
    log.info("converting %s to a safetensors folder (once; about 20 s)", gguf.name)
    convert_gguf(gguf, dest)
    return dest


def convert_gguf(gguf: Path, dest: Path) -> None:
    """Dequantize a GGUF causal LM to fp32 and save it (model, tokenizer, chat template) as a plain HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    ensure_chat_template(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # Dequantized weights are ordinary fp32 tensors; drop the GGUF marker, or save_pretrained refuses to write them.
    model.hf_quantizer = None
    model.is_quantized = False
    del model.config.quantization_config
    model.config.name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
    # Written beside the destination and renamed last, so an interrupted conversion never looks complete.
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_chat_template(tokenizer: Any) -> Any:
    """Give the tokenizer a chat template (ChatML where it has none) and a pad token (its end-of-sequence token)."""
    if not getattr(tokenizer, "chat_template", None):
        log.warning("the tokenizer has no chat template; using SmolLM2's ChatML template")
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


register_model(ModelSpec(
    name="smollm2-135m",
    locate=smollm2_folder,
    description="SmolLM2-135M-Instruct: Llama-style causal LM, 30 layers, 576 hidden, ChatML chat template "
                "(embedded as GGUF, converted once to fp32; offline)",
    tasks=("sft",),
    params="134.5M",
))

"""A run's saved model folder, `runs/<run>/model/`, written once training ends and read back to score, explain and
serve it. Four layouts, each holding the run's tokenizer:

- **peft adapter** (LoRA, IA3, prompt and P-tuning): peft's own `adapter_config.json` + `adapter_model.safetensors`.
- **trained subset** (BitFit, freeze, prefix tuning, adapters): only the tensors the method trained (its own
  modules, the changed weights and the new head) in `trained_weights.safetensors`, beside the model's
  `config.json`. As with a peft adapter, everything else is the base model, reloaded from the run's `--model`.
  This is peft's idea applied to the methods peft does not host, so BitFit saves kilobytes, not the whole model.
- **whole model** (full fine-tuning, and `ftlab compress --prune`): `save_pretrained`'s folder.
- **int8** (`ftlab compress --int8`): `quantized_int8.pt` (a `torch.save`d state dict, read with `weights_only`)
  beside `config.json` and `compression.json`; see `ftlab.compress.quantize`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ftlab.config import TrainConfig
from ftlab.errors import UserError
from ftlab.methods import get_method
from ftlab.models import TRAINED_SUBSET_FILE
from ftlab.tasks import Task

SUBSET_FILE = TRAINED_SUBSET_FILE


def save_final_model(trainer: Any, folder: Path) -> None:
    """The layout that fits what was trained: peft's adapter, the trained subset, or the whole model."""
    model = trainer.model
    trained = [p for p in model.parameters() if p.requires_grad]
    if hasattr(model, "peft_config") or len(trained) == sum(1 for _ in model.parameters()):
        trainer.save_model(str(folder))
        return
    save_trained_subset(model, folder)
    trainer.processing_class.save_pretrained(folder)


def save_trained_subset(model: nn.Module, folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    tensors = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    save_file(tensors, str(folder / SUBSET_FILE), metadata={"format": "pt"})


def load_model_from(model_dir: Path, config: TrainConfig, labels: list[str], task: Task) -> nn.Module:
    """The saved model, rebuilt in whichever layout it was saved (see the module docstring)."""
    if (model_dir / "quantized_int8.pt").is_file():
        from ftlab.compress.quantize import load_int8  # torch's quantized modules: imported by int8 runs only

        return load_int8(model_dir, config, labels, task)
    if (model_dir / "adapter_config.json").is_file():
        from peft import PeftModel

        base = task.load_model(config.model, labels, trust_remote_code=config.trust_remote_code)
        return PeftModel.from_pretrained(base, model_dir)
    method = get_method(config.method)
    if (model_dir / SUBSET_FILE).is_file():
        model = task.load_model(config.model, labels, trust_remote_code=config.trust_remote_code)
        model = method.apply(model, method.make_config(config.method_options))
        _load_subset(model, model_dir / SUBSET_FILE, base=config.model)
        return model
    model = task.load_model(str(model_dir), labels, trust_remote_code=config.trust_remote_code)
    if method.injects_modules:  # a whole model saved before the trained-subset layout: re-inject, then fill
        model = method.apply(model, method.make_config(config.method_options))
        _load_subset(model, *sorted(model_dir.glob("model*.safetensors")), base=config.model)
    return model


def _load_subset(model: nn.Module, *files: Path, base: str) -> None:
    """Fill the rebuilt model's trained tensors from `files`; every trainable one must be there."""
    from safetensors.torch import load_file

    if not files:
        raise UserError("The saved model has no weights file; the run's saved model is incomplete. Train it again.")
    saved = {k: v for f in files for k, v in load_file(f).items()}
    names = dict(model.named_parameters())
    unknown = [name for name in saved if name not in names]
    missing = [name for name, p in names.items() if p.requires_grad and name not in saved]
    if unknown or missing:
        what = f"lacks {', '.join(missing[:3])}" if missing else f"has tensors the model lacks ({', '.join(unknown[:3])})"
        raise UserError(f"{files[0]} {what}: it does not fit base model '{base}' with this method. Was --model "
                        "changed or moved since training? Put the base model back, or train the run again.")
    model.load_state_dict(saved, strict=False)

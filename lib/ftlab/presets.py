"""Batching presets (`configs/presets/*.yaml`): the recipe a `TrainConfig` falls back on for what was left unset.

A preset file holds common values, optionally a section per kind of device (`cpu:`, `cuda:`; the section of the
device that trains is layered over the common values) and a section per task (`sft:`; layered last).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftlab.errors import UserError
from ftlab.yaml_mapping import parse_mapping

PRESETS_DIR = Path(__file__).resolve().parents[2] / "configs" / "presets"
TASK_NAMES = ("classification", "ner", "multitask", "sft")
"""Sections a preset file may hold for one task (e.g. smaller batches for a causal LM), layered like devices'."""
DEVICES = ("cpu", "cuda")
"""Sections a preset file may hold for one kind of device (`fast.yaml`)."""
LEFT_OUT: dict[str, Any] = {"batch_size": 16, "max_length": 128, "padding": "dynamic", "group_by_length": True,
                            "warmup_ratio": 0.06, "precision": "fp32", "torch_compile": False, "lr_scaling": "none",
                            "pad_to_multiple_of": None}
"""What a preset file leaves out."""
PRESET_KEYS = (*LEFT_OUT, "learning_rate", "eval_size", "test_size")
"""The `TrainConfig` fields a preset may set."""


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def preset_values(name: str, task: str | None = None) -> dict[str, Any]:
    """Every value preset `name` gives a run of `task` on this machine: what it leaves out, its common values,
    then its section for the training device, then its section for the task."""
    path = PRESETS_DIR / f"{name}.yaml"
    if "/" in name or not path.is_file():
        raise UserError(f"Unknown preset '{name}'. Known presets: {', '.join(list_presets())}.")
    values = parse_mapping(path.read_text(), f"preset {name}")
    task_sections = {t: values.pop(t) for t in TASK_NAMES if t in values}
    device_sections = {device: values.pop(device) for device in DEVICES if device in values}
    if device_sections:
        section = device_sections.get(training_device()) or {}
        if not isinstance(section, dict):
            raise UserError(f"Preset file {path}: its {training_device()} section must be a mapping of key: value.")
        values.update(section)
    if isinstance(task_section := task_sections.get(task), dict):
        values.update(task_section)
    unknown = sorted(set(values) - set(PRESET_KEYS))
    if unknown:
        raise UserError(f"Preset file {path} sets {', '.join(unknown)}; a preset may set only {', '.join(PRESET_KEYS)}.")
    return {**LEFT_OUT, **values}


def training_device() -> str:
    """`cuda` where a CUDA GPU is visible, else `cpu`: which section of a device-aware preset applies."""
    import torch  # only device-aware presets pay for the import

    return "cuda" if torch.cuda.is_available() else "cpu"

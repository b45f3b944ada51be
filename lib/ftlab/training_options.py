"""Training options that attach through the trainer's plug-ins (adversarial training, data augmentation...):
each option module registers a factory here by name; training merges every factory's plug-ins, so the trainer
and `train.py` never branch on an option.

A factory reads its own fields of `TrainConfig` and returns `None` when the user did not turn it on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ftlab.plugins import Plugins
from ftlab.registry import Registry


@dataclass(frozen=True)
class OptionContext:
    config: Any
    """The run's `TrainConfig`."""
    train_frame: pd.DataFrame
    """The training split as the trainer will encode it (text, label and metadata columns)."""
    labels: list[str]
    tokenizer: Any
    task: Any
    """The run's `ftlab.tasks.Task`."""


PluginFactory = Callable[[OptionContext], Plugins | None]
OPTIONS: Registry[PluginFactory] = Registry("training option", "See `ftlab train --help`.")


def register_option(name: str, factory: PluginFactory) -> PluginFactory:
    return OPTIONS.register(name, factory)


def option_plugins(context: OptionContext) -> Plugins:
    """Every registered option's plug-ins for this run, merged (two that both replace the step are an error)."""
    _register_builtin_options()
    merged = Plugins()
    for factory in OPTIONS.values():
        merged = merged.merged(factory(context))
    return merged


def _register_builtin_options() -> None:
    """Importing an option package registers it; done here, not at import of ftlab, since they import torch."""
    from importlib import import_module

    for package in ("ftlab.robustness",  # --adversarial
                    "ftlab.tasks.multitask_sampling",  # --task-sampling
                    "ftlab.augment"):  # --augment
        import_module(package)

"""The method registry (the `peft` tuner pattern): each method is one module with a config dataclass and an
`apply` function that makes a model trainable, registered here by name. The trainer looks methods up by name
and never branches on one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ftlab.errors import UserError
from ftlab.registry import Registry

ApplyFn = Callable[[nn.Module, Any], nn.Module]
"""(model with its task head, method config) -> the model to train (same object or a wrapper)."""
PluginsFn = Callable[[Any, Any], Any]
"""(method config, `ftlab.training_options.OptionContext`) -> `ftlab.plugins.Plugins` or None."""


@dataclass(frozen=True)
class MethodSpec:
    name: str
    config_cls: type
    """Dataclass of the method's options; each field becomes a `--<method>-<field>` flag."""
    apply: ApplyFn
    tasks: frozenset[str]
    """Tasks the method supports; training any other task is refused with a clear error."""
    description: str
    default_learning_rate: float
    """Used when the user gives no --learning-rate: adapters want far larger steps than full fine-tuning."""
    injects_modules: bool = False
    """The method adds modules the model's class does not know (hand-written adapters, prefix encoders): a saved
    model is reloaded by applying the method again and then loading the saved weights of those modules."""
    plugins: PluginsFn | None = None
    """(method config, the run's `OptionContext`) -> the method's own trainer plug-ins (e.g. distillation's loss
    term), merged with the training options' ones; None, or returning None, adds nothing."""
    quantized_base: bool = False
    """The method trains only weights it adds and its layers accept bitsandbytes' 4/8-bit ones, so the frozen
    pre-trained weights may be loaded quantized (--load-in-bits: QLoRA for LoRA)."""
    flag_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """Extra command-line flags of an option besides `--<method>-<option>`, e.g. {"teacher": ("--teacher",)}."""

    def flag(self, option: str) -> str:
        """The command-line flag of one option, e.g. `--prompt-tuning-num-virtual-tokens`."""
        return f"--{self.name.replace('_', '-')}-{option.replace('_', '-')}"

    def make_config(self, options: dict[str, Any]) -> Any:
        known = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise UserError(
                f"Method '{self.name}' has no option(s) {', '.join(unknown)}. "
                f"Its options: {', '.join(sorted(known)) or '(none)'}."
            )
        try:
            return self.config_cls(**options)
        except TypeError as exc:
            raise UserError(f"Invalid option for method '{self.name}': {exc}.") from exc


METHODS: Registry[MethodSpec] = Registry("method", "See `ftlab methods`.")


def register_method(spec: MethodSpec) -> MethodSpec:
    if not dataclasses.is_dataclass(spec.config_cls):
        raise ValueError(f"method '{spec.name}': config_cls must be a dataclass")
    if not re.match(r"^[a-z][a-z0-9_]*$", spec.name):  # the name becomes --<name>-<option> flags
        raise ValueError(f"method name {spec.name!r} must be lower-case letters, digits and '_'")
    return METHODS.register(spec.name, spec)


def get_method(name: str) -> MethodSpec:
    return METHODS.get(name)


def list_methods() -> list[MethodSpec]:
    return METHODS.values()


def check_supports(spec: MethodSpec, task: str) -> None:
    if task not in spec.tasks:
        others = [m.name for m in METHODS.values() if task in m.tasks]
        raise UserError(
            f"Method '{spec.name}' does not support the '{task}' task (it supports: {', '.join(sorted(spec.tasks))}). "
            f"Methods for '{task}': {', '.join(others)}."
        )


def check_quantized_base(spec: MethodSpec, bits: int) -> None:
    """--load-in-bits freezes the base in k bits: only a method that trains added weights can run on it, and the
    machine needs a CUDA GPU and bitsandbytes (both refused here, before anything is created)."""
    if not spec.quantized_base:
        able = [m.name for m in METHODS.values() if m.quantized_base]
        raise UserError(f"--load-in-bits {bits} freezes the pre-trained weights in {bits} bits, but method "
                        f"'{spec.name}' trains them (or adds layers that cannot sit on k-bit ones). Use --method "
                        f"{' or '.join(able)} (LoRA on a 4-bit base is QLoRA), or leave --load-in-bits out.")
    from ftlab.compress.quantize import quantized_base_options

    quantized_base_options(bits)


"""The method registry (the `peft` tuner pattern): each method is one module with a config dataclass and an
`apply` function that makes a model trainable, registered here by name. The trainer looks methods up by name
and never branches on one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ftlab.errors import UserError, did_you_mean

ApplyFn = Callable[[nn.Module, Any], nn.Module]
"""(model with its task head, method config) -> the model to train (same object or a wrapper)."""


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


_METHODS: dict[str, MethodSpec] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register_method(spec: MethodSpec) -> MethodSpec:
    if not _NAME.match(spec.name):
        raise ValueError(f"method name {spec.name!r} must be lower-case letters, digits and '_'")
    if spec.name in _METHODS:
        raise ValueError(f"method '{spec.name}' is already registered")
    if not dataclasses.is_dataclass(spec.config_cls):
        raise ValueError(f"method '{spec.name}': config_cls must be a dataclass")
    _METHODS[spec.name] = spec
    return spec


def get_method(name: str) -> MethodSpec:
    if name not in _METHODS:
        raise UserError(did_you_mean(name, _METHODS, "method") + " See `ftlab methods`.")
    return _METHODS[name]


def list_methods() -> list[MethodSpec]:
    return list(_METHODS.values())


def check_supports(spec: MethodSpec, task: str) -> None:
    if task not in spec.tasks:
        others = [m.name for m in _METHODS.values() if task in m.tasks]
        raise UserError(
            f"Method '{spec.name}' does not support the '{task}' task (it supports: {', '.join(sorted(spec.tasks))}). "
            f"Methods for '{task}': {', '.join(others)}."
        )

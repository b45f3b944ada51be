"""The `ftlab train` flags built from the config dataclasses (one per TrainConfig field and per method option),
and argparse's own errors as one line that names the fix."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
from collections.abc import Callable
from typing import Any, NoReturn

from ftlab.config import TrainConfig, field_docs

_SCALARS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def value_parser(annotation: str) -> Callable[[str], Any] | None:
    """argparse type for a dataclass field annotation like `int | None` or `list[str] | str | None`."""
    first = annotation.split("|")[0].strip()
    if first.startswith("list["):
        return lambda text: [part.strip() for part in text.split(",")] if "," in text else text
    return _SCALARS.get(first)


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    docs = field_docs()
    for field in dataclasses.fields(TrainConfig):
        if field.name == "method_options":
            continue
        flag = "--" + field.name.replace("_", "-")
        help_text = docs.get(field.name, "")
        if str(field.type).split("|")[0].strip() == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=value_parser(str(field.type)), default=None, help=help_text,
                                metavar=field.name.upper())


def add_method_flags(parser: argparse.ArgumentParser) -> dict[str, tuple[str, str]]:
    """One `--<method>-<option>` flag per option of every registered method; returns dest -> (method, option)."""
    from ftlab.methods import list_methods

    owners: dict[str, tuple[str, str]] = {}
    for spec in list_methods():
        fields = dataclasses.fields(spec.config_cls)
        if not fields:
            continue
        group = parser.add_argument_group(f"options of --method {spec.name}")
        docs = field_docs(spec.config_cls)
        for field in fields:
            dest = f"opt_{spec.name}_{field.name}"
            kwargs: dict[str, Any] = {"dest": dest, "default": None, "help": docs.get(field.name, ""),
                                      "metavar": field.name.upper()}
            if field.type == "bool":
                kwargs["action"] = argparse.BooleanOptionalAction
                del kwargs["metavar"]
            else:
                kwargs["type"] = value_parser(str(field.type))
            group.add_argument(spec.flag(field.name), *spec.flag_aliases.get(field.name, ()), **kwargs)
            owners[dest] = (spec.name, field.name)
    return owners


class Parser(argparse.ArgumentParser):
    """argparse's own errors as one line that names the fix (no usage dump), like every other user error."""

    def error(self, message: str) -> NoReturn:
        owners = _option_owners(self, next(iter(getattr(self, "command_line", [])), None))
        hint, prog = "", self.prog
        if message.startswith("unrecognized arguments:"):
            unknown = [t.split("=")[0] for t in message.split(":", 1)[1].split() if t.startswith("--")]
            guesses = [g for flag in unknown for g in difflib.get_close_matches(flag, owners, n=1, cutoff=0.6)]
            if guesses:
                hint, prog = f" Did you mean {', '.join(guesses)}?", owners[guesses[0]]
        self.exit(2, f"{self.prog}: error: {message.rstrip('.')}.{hint} Run `{prog} --help` to see the flags.\n")


def _option_owners(parser: argparse.ArgumentParser, command: str | None = None) -> dict[str, str]:
    """Every `--flag` of the parser and its subcommands -> the prog that accepts it; a flag that several commands
    share (`--learning-rate`: train and fewshot) goes to `command`, the one being run."""
    owners: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for _, sub in sorted(action.choices.items(), key=lambda item: item[0] == command):
                owners.update(_option_owners(sub))
        owners.update({flag: parser.prog for flag in action.option_strings if flag.startswith("--")})
    return owners

"""YAML files the user writes (configs, presets, slice definitions) read as one mapping, with a syntax error
reported by line and column instead of a parser traceback."""

from __future__ import annotations

from typing import Any

import yaml

from ftlab.errors import UserError


def parse_mapping(text: str, what: str) -> dict[str, Any]:
    """The `key: value` mapping in `text`; an empty file is an empty mapping. `what` names the file in errors."""
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"The {what} file is not valid YAML{where}: {problem}. Fix its syntax.") from exc
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"The {what} file must be a mapping of key: value lines, got a {type(values).__name__}.")
    return values

"""The workbench home: every file a user makes (runs, checkpoints, tracking store, assets) lives under it.

`FTLAB_HOME` overrides the default, which is `data/` of the checkout. Paths built from user-given names go
through `safe_child`, so a run name like `../x` or `a/b` can never write outside the home.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ftlab.errors import UserError

_CHECKOUT_DATA = Path(__file__).resolve().parents[2] / "data"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def home() -> Path:
    """The workbench home folder, created on first use."""
    path = Path(os.environ.get("FTLAB_HOME") or _CHECKOUT_DATA).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def assets_dir() -> Path:
    path = home() / "assets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_name(name: str, what: str = "run name") -> str:
    """Reject names that could escape the home or confuse a file system; return the name unchanged."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise UserError(
            f"Invalid {what} {name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit, with no '/' and no '..'. Example: --name lora-rt-1."
        )
    return name


def safe_child(parent: Path, name: str, what: str = "run name") -> Path:
    """`parent / name`, guaranteed to stay inside `parent`."""
    check_name(name, what)
    child = (parent / name).resolve()
    if parent.resolve() not in child.parents:
        raise UserError(f"Invalid {what} {name!r}: it would point outside {parent}.")
    return child

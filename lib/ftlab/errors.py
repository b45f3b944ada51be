"""Errors a user can fix: the CLI prints them as one paragraph and exits 2; the app shows them inline."""

from __future__ import annotations

from collections.abc import Iterable


class UserError(ValueError):
    """A mistake in the user's input: names the problem and the fix. Never shown as a traceback."""


class AssetUnavailable(UserError):
    """An embedded asset is neither cached nor downloadable."""


def did_you_mean(name: str, choices: Iterable[str], what: str) -> str:
    """`unknown dataset 'rt'. Known datasets: a, b.` in one sentence, for every registry's errors."""
    known = sorted(choices)
    return f"Unknown {what} '{name}'. Known {what}s: {', '.join(known) if known else '(none)'}."

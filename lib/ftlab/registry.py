"""One registry mechanism for every plug-in kind (datasets, models, tasks, methods): names are checked, a
duplicate is refused, and an unknown name is the user's mistake, answered with the names that exist."""

from __future__ import annotations

import re
from typing import Generic, TypeVar

from ftlab.errors import UserError, did_you_mean

T = TypeVar("T")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class Registry(Generic[T]):
    def __init__(self, kind: str, hint: str) -> None:
        self.kind = kind
        """What is registered, for messages: 'dataset', 'method'..."""
        self.hint = hint
        """Where to look next, appended to an unknown-name error, e.g. 'See `ftlab methods`.'"""
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if not _NAME.match(name):
            raise ValueError(f"Bad {self.kind} name {name!r}: use lowercase letters, digits, '_', '.', '-'.")
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        if name not in self._items:
            raise UserError(f"{did_you_mean(name, self._items, self.kind)} {self.hint}")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        return list(self._items)

    def values(self) -> list[T]:
        return list(self._items.values())

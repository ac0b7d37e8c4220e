"""A small generic registry with lazy ``"module:attr"`` entries and did-you-mean errors."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that is not in a registry; the message lists close matches and all names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def unknown_name_message(kind: str, name: str, names: Iterable[str]) -> str:
    """``Unknown <kind> 'x'. Did you mean: y? Available: ...`` (the one did-you-mean wording).

    >>> unknown_name_message("suite", "gen_eval", ["geneval", "gedit"])
    "Unknown suite 'gen_eval'. Did you mean: geneval? Available: gedit, geneval"
    """
    names = sorted(names)
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"Unknown {kind} {name!r}.{hint} Available: {', '.join(names)}"


class Registry(Generic[T]):
    """Name -> object, where an object may be given lazily as ``"package.module:attr"``.

    Lazy entries keep ``hbench list`` from importing torch or Triton.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._help: dict[str, str] = {}

    def add(self, name: str, obj: T | str, help: str = "") -> None:
        """Register ``obj`` (or a lazy ``"module:attr"`` path) under ``name``."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj
        self._help[name] = help

    def register(self, name: str, help: str = "") -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(obj: T) -> T:
            self.add(name, obj, help)
            return obj

        return deco

    def get(self, name: str) -> T:
        """The object under ``name``, importing a lazy entry on first use."""
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        obj = self._entries[name]
        if isinstance(obj, str):
            module, _, attr = obj.partition(":")
            obj = getattr(importlib.import_module(module), attr)
            self._entries[name] = obj
        return obj  # type: ignore[return-value]

    def unknown_message(self, name: str) -> str:
        return unknown_name_message(self.kind, name, self._entries)

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def names(self) -> list[str]:
        return sorted(self._entries)

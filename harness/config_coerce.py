"""Type coercion for run configs: parsed YAML values checked against dataclass annotations.

:func:`build_dataclass` turns a mapping into a suite's, family's or metric's options
dataclass, refusing unknown keys with a did-you-mean; :func:`check_name` guards the names
that become folders and record keys.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from .config_yaml import ConfigError, _Located

# Names that become folders and record keys: suite instances, metrics, variants.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=@-]{0,99}")


def check_name(value: Any, what: str, path: tuple[str, ...], loc: _Located) -> str:
    """A suite, metric or variant name: a plain string usable as one folder name."""
    if not isinstance(value, str):
        hint = " (YAML reads yes/no/on/off/true/false unquoted as booleans: quote it)"
        raise loc.error(
            path, f"{what} names must be strings, got {value!r}" + hint * isinstance(value, bool)
        )
    if not NAME_RE.fullmatch(value) or ".." in value:
        raise loc.error(
            path,
            f"{what} name {value!r} is not allowed: use letters, digits and _ . + = @ - "
            "(no path separators, no '..', not absolute, at most 100 characters)",
        )
    return value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, path: tuple[str, ...], loc: _Located) -> Any:
    """Check ``value`` against the annotation ``tp``; returns the converted value."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, path, loc)
            except ConfigError as err:
                errors.append(str(err))
        raise loc.error(path, f"expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise loc.error(path, f"expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise loc.error(path, f"expected a list, got {value!r}")
        item_tp = args[0] if args else Any
        items = [coerce(v, item_tp, (*path, str(i)), loc) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise loc.error(path, f"expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {k: coerce(v, vt, (*path, k), loc) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, path, loc)
    if tp is bool:
        if not isinstance(value, bool):
            raise loc.error(path, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise loc.error(path, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise loc.error(path, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise loc.error(path, f"expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str):
            raise loc.error(path, f"expected a path string, got {value!r}")
        return Path(value)
    return value


def unknown_key(
    loc: _Located, path: tuple[str, ...], key: str, allowed: typing.Iterable[str]
) -> ConfigError:
    """The error for an unknown key at any level: a did-you-mean and the allowed keys."""
    import difflib

    allowed = sorted(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return loc.error((*path, key), f"unknown key.{hint} Allowed: {', '.join(allowed)}")


def build_dataclass(cls: type, values: Any, path: tuple[str, ...], loc: _Located) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, rejecting unknown keys."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise loc.error(path, f"expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise unknown_key(loc, path, unknown[0], fields)
    kwargs = {k: coerce(v, hints[k], (*path, k), loc) for k, v in values.items()}
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    ]
    if missing:
        raise loc.error(path, f"missing required key(s): {', '.join(missing)}")
    try:
        obj = cls(**kwargs)
    except (ValueError, TypeError) as err:
        raise loc.error(path, str(err)) from err
    return obj

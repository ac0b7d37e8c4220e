"""The config fingerprint of a run: what ``--resume`` must find unchanged.

The manifest keeps the resolved config and its fingerprint (SHA-256 of the canonical JSON
of the keys that decide what a record holds). Resuming with a config whose checked keys
differ would merge samples of two different runs into one store, so it is refused with
the differing keys named, unless the user forces it (``--force-config``, recorded in the
manifest). Keys that only say where or how fast (``out``, ``threads``), which post-pass
metrics run (recomputed from the store anyway) or how failures are judged
(``allow_errors``) are not checked.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

IGNORED_TOP = ("out", "threads", "metrics")
IGNORED_LEAF = ("allow_errors",)


def checked_part(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved config (``RunConfig.to_dict()``) the fingerprint covers."""
    out = {k: v for k, v in config.items() if k not in IGNORED_TOP}
    suites = out.get("suites")
    if isinstance(suites, dict):
        out["suites"] = {
            name: {k: v for k, v in params.items() if k not in IGNORED_LEAF}
            if isinstance(params, dict)
            else params
            for name, params in suites.items()
        }
    return out


def config_fingerprint(config: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of :func:`checked_part`."""
    text = json.dumps(checked_part(config), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    return {prefix: node}


def differing_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two resolved configs (checked part only)."""
    a, b = _flatten(checked_part(old)), _flatten(checked_part(new))
    return sorted(k for k in set(a) | set(b) if a.get(k, "<unset>") != b.get(k, "<unset>"))


def describe_change(old: dict[str, Any], new: dict[str, Any], keys: list[str]) -> str:
    """``key (old -> new)`` for the first few differing keys."""
    a, b = _flatten(checked_part(old)), _flatten(checked_part(new))
    parts = [f"{k} ({a.get(k, '<unset>')!r} -> {b.get(k, '<unset>')!r})" for k in keys[:4]]
    more = f" and {len(keys) - 4} more" if len(keys) > 4 else ""
    return ", ".join(parts) + more

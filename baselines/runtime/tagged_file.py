"""safetensors files that name their own format: a ``format`` tag and a JSON ``config`` in the
header metadata (EAGLE heads, trimmed draft models)."""

from __future__ import annotations

from pathlib import Path


def read_tagged_metadata(path: str | Path, fmt: str, what: str) -> dict[str, str]:
    """The header metadata of ``path``, checked to carry ``format == fmt`` and a ``config``.

    Raises:
        ValueError: naming the file and ``what`` it should have been.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != fmt or "config" not in meta:
        raise ValueError(
            f"{path}: not {what} (metadata format={meta.get('format')!r}, "
            f"expected {fmt!r} with a 'config' entry)"
        )
    return meta

"""Shapes understanding models: conv-prefix Llama target, EAGLE draft head, text engines.

Heavy imports (torch, transformers) happen inside :func:`build_text_engine`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_text_engine(kind: str, weights_dir: Path | None = None, **opts: Any) -> Any:
    """A :class:`~.engine.ShapesTextEngine` of ``kind`` (``greedy`` or ``spec``), not yet loaded.

    Args:
        kind: ``greedy`` (plain KV-cached greedy) or ``spec`` (speculative with the EAGLE head).
        weights_dir: weights folder (default: ``baselines/shapes/weights``).
        **opts: ``k`` (draft length, spec only), ``cache_kind``.
    """
    from .engine import ShapesTextEngine

    return ShapesTextEngine(kind, weights_dir, **opts)

"""The shapes world's flow-matching generator, its distilled students and their engines.

``build_image_engine(kind)`` returns an unloaded engine; kinds: ``teacher`` (50-timestep
Euler + CFG baseline, one forward per CFG branch as in BAGEL), ``teacher-batched`` (the same
sampler with each step's branches in one call), ``euler6`` (teacher weights, 6 Euler steps + CFG, undistilled),
``nfe6`` (6-step distilled student) and ``nfe1`` (1-step distilled student).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engines import ShapesImageEngine

ENGINE_KINDS: tuple[str, ...] = ("teacher", "teacher-batched", "euler6", "nfe6", "nfe1")


def build_image_engine(kind: str, weights_dir: Path | None = None) -> ShapesImageEngine:
    """An unloaded image engine of ``kind`` (weights from ``weights_dir``, default: shipped)."""
    from .engines import ShapesImageEngine  # torch only when an engine is built

    return ShapesImageEngine(kind, weights_dir)


__all__ = ["ENGINE_KINDS", "build_image_engine"]

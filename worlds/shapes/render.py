"""Exact renderer: a scene to a 32x32 RGB uint8 image and per-object masks."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .scene import BACKGROUNDS, IMAGE_SIZE, PALETTE, Scene, ShapeObject


@lru_cache(maxsize=64)
def shape_mask(shape: str, size: int) -> np.ndarray:
    """Boolean ``size x size`` mask of a shape filling its box (read-only, cached)."""
    c = (np.arange(size) + 0.5) / size  # pixel centres in [0, 1]
    yy, xx = np.meshgrid(c, c, indexing="ij")
    if shape == "square":
        m = np.ones((size, size), dtype=bool)
    elif shape == "circle":
        m = (xx - 0.5) ** 2 + (yy - 0.5) ** 2 <= 0.25
    elif shape == "triangle":
        # Apex at the top centre, base along the bottom edge.
        m = np.abs(xx - 0.5) <= yy / 2 + 0.5 / size
    else:
        raise ValueError(f"unknown shape {shape!r}")
    m.setflags(write=False)
    return m


def object_mask(obj: ShapeObject) -> np.ndarray:
    """Full-image boolean mask of one object."""
    full = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    full[obj.y : obj.y + obj.size, obj.x : obj.x + obj.size] = shape_mask(obj.shape, obj.size)
    return full


def render(scene: Scene) -> np.ndarray:
    """Render a scene as an ``(32, 32, 3)`` uint8 array."""
    img = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    img[:] = BACKGROUNDS[scene.background]
    for obj in scene.objects:
        sub = img[obj.y : obj.y + obj.size, obj.x : obj.x + obj.size]
        sub[shape_mask(obj.shape, obj.size)] = PALETTE[obj.color]
    return img

"""Exact image-quality measures for the shapes world (no weights).

A rendered shapes-world image is flat colour regions (palette and background colours)
with one-pixel hard steps between them. Generators lose that in two ways, each measured
here on a 0-1 scale where a rendered scene scores 1.0:

* ``shapes-palette`` (palette cleanliness): mean over pixels of
  ``max(0, 1 - d / max_color_dist)``, ``d`` the RGB distance to the nearest palette or
  background colour; colour noise and washed-out fills lower it.
* ``shapes-edges`` (edge sharpness): the share of the image's gradient that is carried by
  hard steps, i.e. by 4-neighbour pixel pairs whose two pixels are both clean (within
  ``clean_dist`` of a reference colour) and of different reference colours. Gradient =
  the RGB distance between the two pixels, summed over all pairs whose distance is at
  least ``noise_floor``. Blur spreads a step over mixed pixels, whose pairs are not clean,
  so the share drops; an image with no gradient above the floor scores 1.0 (nothing to
  blur).

Both are per-image values, so the post-pass reports them per variant with paired deltas
like any other per-sample metric. Their "features" are the values themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

from hbench.worlds.shapes.detect import nearest_colors

from .base import MetricOptions, SampleMetric, to_rgb


def palette_cleanliness(image: np.ndarray, max_color_dist: float = 80.0) -> float:
    """Mean per-pixel closeness to the nearest shapes-world colour, in [0, 1]."""
    _, dist = nearest_colors(image, max_color_dist)
    return float(np.clip(1.0 - dist / max_color_dist, 0.0, 1.0).mean())


def edge_sharpness(image: np.ndarray, clean_dist: float = 30.0, noise_floor: float = 8.0) -> float:
    """Share of the image's gradient carried by clean one-pixel colour steps, in [0, 1]."""
    idx, _ = nearest_colors(image, clean_dist)  # -1 where a pixel is not clean
    px = image.astype(np.float32)
    total = sharp = 0.0
    for a, b, ia, ib in (
        (px[:, :-1], px[:, 1:], idx[:, :-1], idx[:, 1:]),  # horizontal neighbours
        (px[:-1, :], px[1:, :], idx[:-1, :], idx[1:, :]),  # vertical neighbours
    ):
        step = np.linalg.norm(a - b, axis=-1)
        edge = step >= noise_floor
        total += float(step[edge].sum())
        hard = edge & (ia >= 0) & (ib >= 0) & (ia != ib)
        sharp += float(step[hard].sum())
    return 1.0 if total == 0.0 else sharp / total


@dataclass(frozen=True, kw_only=True)
class PaletteOptions(MetricOptions):
    """Options of ``shapes-palette``.

    Attributes:
        max_color_dist: RGB distance at which a pixel counts as fully off-palette.
    """

    max_color_dist: float = 80.0
    batch_size: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_color_dist <= 0:
            raise ValueError(f"max_color_dist must be > 0, got {self.max_color_dist}")


@dataclass(frozen=True, kw_only=True)
class EdgeOptions(MetricOptions):
    """Options of ``shapes-edges``.

    Attributes:
        clean_dist: RGB distance within which a pixel counts as a clean reference colour.
        noise_floor: Neighbour differences below this are noise, not edges.
    """

    clean_dist: float = 30.0
    noise_floor: float = 8.0
    batch_size: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.clean_dist <= 0 or self.noise_floor < 0:
            raise ValueError("clean_dist must be > 0 and noise_floor >= 0")


class ShapesPaletteMetric(SampleMetric):
    """Palette cleanliness of shapes-world images (exact)."""

    Options: ClassVar[type] = PaletteOptions
    description: ClassVar[str] = "shapes world: palette cleanliness in [0, 1] (exact, no weights)"

    def image_features(self, images: list[Image.Image]) -> np.ndarray:
        m = self.options.max_color_dist
        vals = [palette_cleanliness(np.asarray(to_rgb(im)), m) for im in images]
        return np.asarray(vals, dtype=np.float64).reshape(-1, 1)

    def score(self, image_features: np.ndarray, text_features: np.ndarray | None) -> np.ndarray:
        return image_features[:, 0]


class ShapesEdgesMetric(SampleMetric):
    """Edge sharpness of shapes-world images (exact)."""

    Options: ClassVar[type] = EdgeOptions
    description: ClassVar[str] = "shapes world: edge sharpness in [0, 1] (exact, no weights)"

    def image_features(self, images: list[Image.Image]) -> np.ndarray:
        o = self.options
        vals = [
            edge_sharpness(np.asarray(to_rgb(im)), o.clean_dist, o.noise_floor) for im in images
        ]
        return np.asarray(vals, dtype=np.float64).reshape(-1, 1)

    def score(self, image_features: np.ndarray, text_features: np.ndarray | None) -> np.ndarray:
        return image_features[:, 0]

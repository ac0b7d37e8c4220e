"""Exact detector and colour classifier for shapes-world images.

Algorithm (documented thresholds, all keyword options):

1. Background = the most common palette/background colour along the image border.
2. Every pixel is assigned to its nearest reference colour (palette + backgrounds) when
   its RGB distance is below ``max_color_dist``; farther pixels are "unclean" and ignored.
3. Connected components (8-connectivity) per palette colour; blobs smaller than
   ``min_pixels`` are noise and dropped.
4. Shape from the blob's fill ratio (pixels / bounding-box area) and box aspect:
   ``>= square_fill`` is a square, ``>= circle_fill`` a circle, below that a triangle.
5. Score in [0, 1] = colour purity x shape clarity x aspect regularity. Purity is the mean
   over the blob's pixels of a per-pixel colour confidence: 1.0 within ``clean_color_dist``
   of its palette colour (a quarter of the closest palette pair's distance, 86: such a
   pixel cannot be mistaken for another colour), falling linearly to 0 at
   ``max_color_dist``. A rendered ground-truth object scores 1.0; a clearly drawn but
   slightly off-colour object (model output) stays near 1.0, the way a clear object gets a
   high Mask2Former score; ambiguous blobs score lower, so GenEval's confidence thresholds
   (0.3, 0.9 for counting) drop doubtful blobs gracefully.

On rendered ground truth the detector recovers every object exactly (tested on
thousands of sampled scenes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .scene import BACKGROUNDS, COLORS, PALETTE, SHAPES

_REF_NAMES: tuple[str, ...] = COLORS + tuple(BACKGROUNDS)
_REF_RGB = np.array([PALETTE[c] for c in COLORS] + list(BACKGROUNDS.values()), dtype=np.float32)
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass
class Detection:
    """One detected object in GenEval's structure: box (x1, y1, x2, y2), score, mask."""

    box: tuple[float, float, float, float]
    score: float
    mask: np.ndarray | None = field(default=None, repr=False)
    color: str | None = None  # the palette colour the blob was built from


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of the exact detector (see the module docstring)."""

    max_color_dist: float = 80.0
    clean_color_dist: float = 24.0
    min_pixels: int = 10
    square_fill: float = 0.89
    circle_fill: float = 0.68
    max_aspect: float = 1.6


def nearest_colors(image: np.ndarray, max_dist: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel index into palette+backgrounds (``-1`` when unclean) and the distance."""
    px = image.reshape(-1, 3).astype(np.float32)
    d = np.linalg.norm(px[:, None, :] - _REF_RGB[None, :, :], axis=-1)
    idx = d.argmin(axis=1)
    dist = d[np.arange(len(idx)), idx]
    idx = np.where(dist < max_dist, idx, -1)
    h, w = image.shape[:2]
    return idx.reshape(h, w), dist.reshape(h, w)


def background_of(image: np.ndarray, cfg: DetectorConfig = DetectorConfig()) -> str | None:
    """The background name most common along the border, or None if none dominates."""
    idx, _ = nearest_colors(image, cfg.max_color_dist)
    border = np.concatenate([idx[0], idx[-1], idx[1:-1, 0], idx[1:-1, -1]])
    names = [_REF_NAMES[i] for i in border if i >= len(COLORS)]
    if not names:
        return None
    values, counts = np.unique(names, return_counts=True)
    best = int(counts.argmax())
    return str(values[best]) if counts[best] >= len(border) / 2 else None


def _color_confidence(dist: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Per-pixel colour confidence: 1 up to ``clean_color_dist``, 0 at ``max_color_dist``."""
    span = cfg.max_color_dist - cfg.clean_color_dist
    return np.clip((cfg.max_color_dist - dist) / span, 0.0, 1.0)


def _ramp(x: float, edge: float, full: float) -> float:
    """1.0 at ``full`` (and beyond, away from ``edge``), falling linearly to 0.5 at ``edge``."""
    t = (x - edge) / (full - edge)
    return 0.5 + 0.5 * min(1.0, max(0.0, t))


def _classify_shape(fill: float, cfg: DetectorConfig) -> tuple[str, float]:
    """Shape name and a clarity in [0, 1]: 1.0 over the fills rendered shapes have
    (triangles 0.58-0.61, circles 0.78-0.85, squares 1.0), 0.5 at a decision boundary."""
    if fill >= cfg.square_fill:
        return "square", _ramp(fill, cfg.square_fill, 0.95)
    if fill >= cfg.circle_fill:
        return "circle", min(_ramp(fill, cfg.circle_fill, 0.74), _ramp(fill, cfg.square_fill, 0.86))
    return "triangle", _ramp(fill, cfg.circle_fill, 0.63)


def detect(image: np.ndarray, cfg: DetectorConfig = DetectorConfig()) -> dict[str, list[Detection]]:
    """Detect shapes in an ``(H, W, 3)`` uint8 image; returns class -> detections."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    idx, dist = nearest_colors(image, cfg.max_color_dist)
    out: dict[str, list[Detection]] = {s: [] for s in SHAPES}
    for ci, color in enumerate(COLORS):
        labels, n = ndimage.label(idx == ci, structure=_EIGHT)
        for lab in range(1, n + 1):
            mask = labels == lab
            npx = int(mask.sum())
            if npx < cfg.min_pixels:
                continue
            ys, xs = np.nonzero(mask)
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            w, h = x1 - x0, y1 - y0
            fill = npx / float(w * h)
            shape, clarity = _classify_shape(fill, cfg)
            aspect = max(w, h) / min(w, h)
            regular = (
                1.0 if aspect <= 1.15 else max(0.0, 1 - (aspect - 1.15) / (cfg.max_aspect - 1.15))
            )
            purity = float(_color_confidence(dist[mask], cfg).mean())
            score = float(np.clip(purity * clarity * regular, 0.0, 1.0))
            out[shape].append(
                Detection((float(x0), float(y0), float(x1), float(y1)), score, mask, color)
            )
    for dets in out.values():
        dets.sort(key=lambda d: -d.score)
    return out


def classify_color(
    image: np.ndarray, mask: np.ndarray, cfg: DetectorConfig = DetectorConfig()
) -> str:
    """Exact colour classifier: the palette colour most pixels inside ``mask`` are nearest to."""
    idx, _ = nearest_colors(np.asarray(image), cfg.max_color_dist)
    inside = idx[mask]
    inside = inside[(inside >= 0) & (inside < len(COLORS))]
    if inside.size == 0:
        return "unknown"
    return COLORS[int(np.bincount(inside, minlength=len(COLORS)).argmax())]


def flat_objects(
    dets: dict[str, list[Detection]], min_score: float = 0.3
) -> list[tuple[str, Detection]]:
    """All detections above ``min_score`` as (shape, detection) pairs."""
    return [(s, d) for s, ds in dets.items() for d in ds if d.score >= min_score]

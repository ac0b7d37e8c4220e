"""``shapes``: an exact VIEScore-shaped judge for the shapes world.

It fills VIEScore's four 0-10 scores from the exact detector and edit checker instead of
a VLM's opinion. Mapping (all scores on the 0-10 scale, SC = min, PQ = min):

* SC score 1, editing success: 10 when :func:`check_edit` finds the instruction fulfilled
  (the produced object at the required place / the removed object gone / the new
  background), else 0.
* SC score 2, over-editing: ``10 * max(0, 1 - changes / keep)`` where ``keep`` counts what
  must stay (the expected objects other than the produced one, plus the background unless
  the edit changes it; at least 1) and ``changes`` counts what did not stay: kept objects
  not found, unexpected objects found, and a changed background.
* PQ score 1, naturalness = clean palette: ``10 * mean over pixels of
  max(0, 1 - d / max_color_dist)``, ``d`` the RGB distance to the nearest palette or
  background colour (0 for rendered pixels).
* PQ score 2, artifacts = clean edges: ``10 * mean detection score * (1 - stray)``; the
  detector's score is colour purity x shape clarity x aspect regularity (1.0 for a rendered
  object), ``stray`` the share of palette-coloured pixels outside every detected object.
  An image with no palette pixels has nothing to be unclean: 10.

A rendered expected scene scores 10 on all four; a blurred or noisy one loses PQ; the
unchanged source image or an edit of the wrong object gets SC 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hbench.worlds.shapes import COLORS, DetectorConfig, background_of, check_edit, detect
from hbench.worlds.shapes.detect import flat_objects, nearest_colors

from ..shapes_source import edit_from_dict
from .base import Judge, JudgeError, JudgeInput, JudgeScores


@dataclass(frozen=True)
class ShapesJudgeOptions:
    """Options of the ``shapes`` judge (detector thresholds keep their documented defaults)."""

    min_score: float = 0.3  # detections below this confidence are ignored, as in GenEval
    max_color_dist: float = 80.0


def _sc_scores(
    edit, image: np.ndarray, cfg: DetectorConfig, min_score: float
) -> tuple[list[float], str]:
    check = check_edit(edit, image, cfg, min_score)
    success = 10.0 if check.fulfilled else 0.0
    result_missing = (
        edit.result is not None and not check.fulfilled and edit.kind != "subject-remove"
    )
    others_missing = check.missing - (1 if result_missing else 0)
    bg_changed = (
        edit.kind != "background_change" and background_of(image, cfg) != edit.source.background
    )
    changes = others_missing + check.extra + int(bg_changed)
    keep = (
        len(edit.expected.objects) - (edit.result is not None) + (edit.kind != "background_change")
    )
    preserve = 10.0 * max(0.0, 1.0 - changes / max(1, keep))
    return [success, preserve], check.reason


def _pq_scores(image: np.ndarray, cfg: DetectorConfig, min_score: float) -> list[float]:
    idx, dist = nearest_colors(image, cfg.max_color_dist)
    naturalness = 10.0 * float(np.clip(1.0 - dist / cfg.max_color_dist, 0.0, 1.0).mean())
    palette_px = (idx >= 0) & (idx < len(COLORS))
    if not palette_px.any():
        return [naturalness, 10.0]
    found = flat_objects(detect(image, cfg), min_score)
    covered = np.zeros(idx.shape, dtype=bool)
    for _, det in found:
        covered |= det.mask
    stray = float((palette_px & ~covered).sum() / palette_px.sum())
    mean_score = float(np.mean([d.score for _, d in found])) if found else 0.0
    return [naturalness, 10.0 * mean_score * (1.0 - stray)]


class ShapesJudge(Judge):
    """Exact judge for shapes-world edits (needs the edit as ``reference``)."""

    name = "shapes"
    Options = ShapesJudgeOptions

    def judge(self, sample: JudgeInput) -> JudgeScores:
        """Score one shapes edit; :class:`JudgeError` if the sample is not a shapes edit."""
        if sample.reference is None or "expected" not in sample.reference:
            raise JudgeError(
                "shapes judge: the sample carries no shapes edit (use it on source 'shapes')"
            )
        edit = edit_from_dict(sample.reference)
        image = np.asarray(sample.edited.convert("RGB"), dtype=np.uint8)
        if image.shape[:2] != (32, 32):
            raise JudgeError(
                f"shapes judge: expected a 32x32 image, got {image.shape[1]}x{image.shape[0]}"
            )
        cfg = DetectorConfig(max_color_dist=self.options.max_color_dist)
        sc, reason = _sc_scores(edit, image, cfg, self.options.min_score)
        pq = _pq_scores(image, cfg, self.options.min_score)
        return JudgeScores(sc_scores=sc, pq_scores=pq, attempts={"sc": 1, "pq": 1}, reason=reason)

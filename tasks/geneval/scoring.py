"""Score images: one image with a detector and colour classifier, or a whole GenEval folder.

``score_image_dir`` is the counterpart of the official ``evaluate_images.py`` +
``summary_scores.py``: it reads the official layout, runs the detector, applies the
official rules and writes the official results jsonl.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .layout import read_layout
from .rules import ColorClassifier, ImageScore, Thresholds, score_image
from .summary import prompt_agreement, summary_scores, write_results

DetectFn = Callable[[Any], Mapping[str, Any]]


def open_image(path: str | Path) -> Any:
    """Open an image as the official evaluator does (EXIF orientation applied).

    16-bit images are scaled to 8 bits (PIL's plain convert clips them to white); a file
    that cannot be decoded raises ImageFileError naming it.
    """
    from hbench.harness.images import open_rgb

    return open_rgb(path, exif_transpose=True)


def result_row(filename: str, metadata: Mapping[str, Any], score: ImageScore) -> dict[str, Any]:
    """One row of the official results jsonl."""
    return {
        "filename": filename,
        "tag": metadata["tag"],
        "prompt": metadata["prompt"],
        "correct": bool(score.correct),
        "reason": score.reason,
        "metadata": json.dumps(metadata),
        "details": score.details_json(),
    }


def extras_summary(scores: list[ImageScore]) -> dict[str, Any]:
    """Means of the per-image extras (reported beside the score)."""
    n = len(scores)
    if not n:
        return {}
    return {
        "extra_objects_mean": sum(s.extras["extra_objects"] for s in scores) / n,
        "images_with_extra_objects": sum(s.extras["extra_objects"] > 0 for s in scores) / n,
        "surplus_objects_mean": sum(s.extras["surplus_objects"] for s in scores) / n,
    }


@dataclass
class DirScores:
    """Results of :func:`score_image_dir`."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)


def score_image_dir(
    root: str | Path,
    detector: DetectFn,
    color_classifier: ColorClassifier | None,
    thresholds: Thresholds = Thresholds(),
    outfile: str | Path | None = None,
) -> DirScores:
    """Score every sample of a GenEval image folder.

    Args:
        root: folder in the official layout (``NNNNN/metadata.jsonl``, ``NNNNN/samples/*.png``).
        detector: image -> ``{class: [Detection, ...]}``.
        color_classifier: ``(image, objects, classname) -> colours`` (needed for colour tags).
        thresholds: the official evaluator options.
        outfile: where to write the official results jsonl (optional).

    Returns:
        Results rows (official columns), the ``summary_scores.py`` summary, and extras
        (extra objects, per-prompt agreement) that never change the score.
    """
    rows: list[dict[str, Any]] = []
    scores: list[ImageScore] = []
    for folder in read_layout(root):
        for path in folder.samples:
            image = open_image(path)
            score = score_image(
                folder.metadata, detector(image), image, color_classifier, thresholds
            )
            scores.append(score)
            rows.append(result_row(str(path), folder.metadata, score))
    if not rows:
        raise ValueError(f"{root}: the prompt folders hold no samples/<digits>.png images")
    if outfile is not None:
        write_results(outfile, rows)
    extras = {**extras_summary(scores), **prompt_agreement(rows)}
    return DirScores(rows, summary_scores(rows), extras)

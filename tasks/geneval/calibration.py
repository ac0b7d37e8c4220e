"""Detector self-check before GenEval scores anything.

GenEval users report scores near zero from a mismatched detector checkpoint or config, and
detections that change with the GPU (djghosh13/geneval issues 6, 8, 15; FoundationVision/
Infinity issue 34). So before a run scores an image, the configured detector and colour
classifier look at a small calibration set whose objects and colours are known:

* ``shapes`` (a fixed recipe): one shapes-world scene per (shape, palette colour) at a fixed
  place on the grey background, rendered by the run itself; for the shapes detector;
* a folder in GenEval's official layout (``NNNNN/metadata.jsonl`` + ``samples/*.png``) whose
  images the user knows to satisfy their metadata (real photos for a COCO detector).

Each known object is looked up with the official rules (:func:`.rules.score_image`, the
configured thresholds): *recall* of a class = share of its objects found (count included);
*colour accuracy* = share of the found coloured objects whose colour is also right. The
result goes into the manifest; below the configured bounds the run refuses in one line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from hbench.harness.protocol import PreflightError

from .layout import read_layout
from .rules import Thresholds, score_image

SHAPES_RECIPE = "shapes"
AUTO = "auto"
NONE = "none"


@dataclass(frozen=True)
class Case:
    """One calibration image and the objects it holds: ``(class, count, colour or None)``."""

    name: str
    image: Image.Image
    objects: tuple[tuple[str, int, str | None], ...]


def shapes_cases() -> list[Case]:
    """The fixed recipe: each shape in each palette colour, 11 px, centred, grey background."""
    from hbench.worlds.shapes import COLORS, SHAPES, Scene, ShapeObject, render

    cases = []
    for shape in SHAPES:
        for color in COLORS:
            scene = Scene((ShapeObject(shape, color, 10, 10, 11),))
            image = Image.fromarray(render(scene))
            cases.append(Case(f"{shape}-{color}", image, ((shape, 1, color),)))
    return cases


def layout_cases(root: str | Path) -> list[Case]:
    """Cases from an official-layout folder: every include clause of every sample image."""
    cases = []
    for folder in read_layout(root):
        objects = tuple(
            (c["class"], int(c.get("count", 1)), c.get("color"))
            for c in folder.metadata.get("include", [])
        )
        for path in folder.samples:
            cases.append(Case(f"{folder.index:05d}/{path.name}", _rgb(path), objects))
    if not cases:
        raise ValueError(f"{root}: the calibration folder holds no sample images")
    return cases


def _rgb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def measure(detector: Any, classifier: Any, cases: list[Case], thresholds: Thresholds) -> dict:
    """Per-class recall and colour accuracy of ``detector`` / ``classifier`` on ``cases``."""
    found: dict[str, list[bool]] = defaultdict(list)
    colour: list[bool] = []
    misses: list[str] = []
    for case in cases:
        detections = detector(case.image)
        for cls, count, color in case.objects:
            clause = {"class": cls, "count": count}
            hit = score_image(
                {"tag": "counting" if count > 1 else "single_object", "include": [clause]},
                detections, case.image, None, thresholds,
            ).correct  # fmt: skip
            found[cls].append(hit)
            if not hit:
                misses.append(f"{case.name}: {cls}")
            elif color is not None:
                meta = {"tag": "colors", "include": [{**clause, "color": color}]}
                ok = score_image(meta, detections, case.image, classifier, thresholds).correct
                colour.append(ok)
                if not ok:
                    misses.append(f"{case.name}: colour of {cls}")
    recall = {c: sum(v) / len(v) for c, v in sorted(found.items())}
    return {
        "images": len(cases),
        "per_class_recall": recall,
        "min_recall": min(recall.values()) if recall else 0.0,
        "color_accuracy": sum(colour) / len(colour) if colour else None,
        "color_checked": len(colour),
        "misses": misses[:20],
    }


def check(result: dict, min_recall: float, min_color_accuracy: float, source: str) -> dict:
    """``result`` with the bounds and ``passed``; raises :class:`PreflightError` below them."""
    out = {**result, "source": source, "min_recall_bound": min_recall,
           "min_color_accuracy_bound": min_color_accuracy}  # fmt: skip
    worst = min(result["per_class_recall"].items(), key=lambda kv: kv[1], default=("-", 0.0))
    acc = result["color_accuracy"]
    if worst[1] < min_recall:
        out["passed"] = False
        raise PreflightError(
            f"detector self-check failed on {source}: recall of {worst[0]!r} is {worst[1]:.2f} "
            f"< {min_recall:.2f} (wrong checkpoint, config or class names?); see manifest.preflight",
            out,
        )
    if acc is not None and acc < min_color_accuracy:
        out["passed"] = False
        raise PreflightError(
            f"colour self-check failed on {source}: accuracy {acc:.2f} < {min_color_accuracy:.2f}"
            "; see manifest.preflight",
            out,
        )
    out["passed"] = True
    return out

"""The official GenEval scoring rules as pure functions over detections from any detector.

Rules (djghosh13/geneval ``evaluation/evaluate_images.py``), every threshold an option:

* Per class, keep detections with confidence ``> threshold`` (0.3; ``counting_threshold``
  0.9 for every class when the prompt's tag is ``counting``; compared in float32, as the
  official evaluator compares mmdet's float32 scores), most confident first, at most
  ``max_objects`` (16), then optionally drop boxes overlapping a kept one by IoU
  ``>= max_overlap`` (1.0 = off, the official default).
* ``include`` groups are ANDed: a group needs ``count`` objects of its class; its colour and
  position are checked on the ``count`` most confident objects only. Colour: at least
  ``count`` of them classified as the colour. Position: every one of them must stand in the
  relation to every object of the target group; a target group that failed fails the group.
* ``exclude`` groups are ORed: ``count`` or more objects of the class fail the image.
* Relative position of A to B: centre offset, shrunk on each axis by
  ``position_threshold * (size_a + size_b)``; a relation holds when the shrunk offset,
  divided by the full offset's length, exceeds 0.5 along it.

Equal scores: the official evaluator orders a class's detections with
``np.argsort(scores)[::-1]`` on mmdet's float32 scores, and numpy's default sort is not
stable (on AVX-512 machines not even for 8 items), so the order of tied detections, and with
it which tied objects are the "top count", depends on the machine. ``tie_order="official"``
(default) makes that same call, so hbench and the official script agree on the same
machine; ``tie_order="stable"`` orders ties by detector order instead, the same everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from hbench.worlds.geneval import relative_position

from .metadata import GENEVAL_COLORS

Box = tuple[float, float, float, float]
TIE_ORDERS: tuple[str, ...] = ("official", "stable")


@dataclass(frozen=True)
class Detection:
    """One detected object: box ``(x1, y1, x2, y2)`` in pixels, confidence, optional mask.

    ``mask`` is a boolean ``(H, W)`` array over the whole image (instance segmentation).
    """

    box: Box
    score: float
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)

    def row(self) -> list[float]:
        """``[x1, y1, x2, y2, score]``, as in the official results' ``details``."""
        return [float(v) for v in self.box] + [float(self.score)]


@dataclass(frozen=True)
class Thresholds:
    """The official evaluator's options, with its defaults."""

    threshold: float = 0.3
    counting_threshold: float = 0.9
    max_objects: int = 16
    max_overlap: float = 1.0
    position_threshold: float = 0.1
    tie_order: str = "official"

    def __post_init__(self) -> None:
        if self.tie_order not in TIE_ORDERS:
            raise ValueError(
                f"tie_order must be one of {', '.join(TIE_ORDERS)}, got {self.tie_order!r}"
            )
        for name in ("threshold", "counting_threshold", "max_overlap"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.max_objects < 1:
            raise ValueError(f"max_objects must be >= 1, got {self.max_objects}")
        if self.position_threshold < 0:
            raise ValueError(f"position_threshold must be >= 0, got {self.position_threshold}")


class ColorClassifier(Protocol):
    """Names the colour of each object (official: CLIP zero-shot over the ten colours)."""

    def __call__(self, image: Any, objects: Sequence[Detection], classname: str) -> list[str]:
        """One colour name per object, in order."""


def compute_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """IoU with the official inclusive-pixel convention (width = x2 - x1 + 1).

    >>> compute_iou((0, 0, 9, 9), (0, 0, 9, 9))
    1.0
    >>> round(compute_iou((0, 0, 9, 9), (5, 0, 14, 9)), 4)
    0.3333
    """

    def area(b: Sequence[float]) -> float:
        return max(b[2] - b[0] + 1, 0) * max(b[3] - b[1] + 1, 0)

    inter = area(
        (
            max(box_a[0], box_b[0]),
            max(box_a[1], box_b[1]),
            min(box_a[2], box_b[2]),
            min(box_a[3], box_b[3]),
        )
    )
    union = area(box_a) + area(box_b) - inter
    return float(inter / union) if union else 0.0


def _order(dets: Sequence[Detection], tie_order: str) -> list[int]:
    """Indices by descending score (sorting all detections, then thresholding, as the official)."""
    if tie_order == "official":
        return np.argsort(np.asarray([d.score for d in dets], dtype=np.float32))[::-1].tolist()
    return sorted(range(len(dets)), key=lambda i: -dets[i].score)


def _above(score: float, cut: float) -> bool:
    """``score > cut`` as the official evaluator compares: mmdet's float32 scores against the
    threshold cast to float32 (numpy casts the Python float to the array's dtype), so a score
    of exactly ``float32(0.3)`` is not above 0.3 although ``float(float32(0.3)) > 0.3``."""
    return bool(np.float32(score) > np.float32(cut))


def select_objects(
    detections: Mapping[str, Sequence[Detection]], tag: str, thresholds: Thresholds = Thresholds()
) -> dict[str, list[Detection]]:
    """Apply confidence threshold, ordering, the per-class cap and optional de-duplication.

    Args:
        detections: class name -> detections (any order).
        tag: the prompt's tag (``counting`` uses ``counting_threshold``).
        thresholds: the evaluator options.

    Returns:
        class name -> kept detections, most confident first; classes with none are absent.
    """
    cut = thresholds.counting_threshold if tag == "counting" else thresholds.threshold
    out: dict[str, list[Detection]] = {}
    for cls, dets in detections.items():
        kept = [dets[i] for i in _order(dets, thresholds.tie_order) if _above(dets[i].score, cut)]
        kept = kept[: thresholds.max_objects]
        chosen: list[Detection] = []
        while kept:
            best = kept.pop(0)
            chosen.append(best)
            if thresholds.max_overlap < 1.0:
                kept = [d for d in kept if compute_iou(best.box, d.box) < thresholds.max_overlap]
        if chosen:
            out[cls] = chosen
    return out


def _color_reason(group: Mapping[str, Any], colors: list[str]) -> str:
    want, cls, n = group["color"], group["class"], group["count"]
    names = [c for c in GENEVAL_COLORS if c in colors] + sorted(set(colors) - set(GENEVAL_COLORS))
    return f"expected {want} {cls}>={n}, found {colors.count(want)} {want}; and " + ", ".join(
        f"{colors.count(c)} {c}" for c in names
    )


def _position_failure(
    found: list[Detection], targets: list[Detection], rel: str, cls: str, threshold: float
) -> str | None:
    for obj in found:
        for target in targets:
            true_rels = relative_position(obj.box, target.box, threshold)
            if rel not in true_rels:
                # sorted: the official joins a set, whose order varies between runs
                return (
                    f"expected {cls} {rel} target, found {' and '.join(sorted(true_rels))} target"
                )
    return None


def evaluate(
    metadata: Mapping[str, Any],
    objects: Mapping[str, Sequence[Detection]],
    image: Any = None,
    color_classifier: ColorClassifier | None = None,
    thresholds: Thresholds = Thresholds(),
) -> tuple[bool, str]:
    """Official correctness of one image from its selected objects.

    Args:
        metadata: the prompt's record (tag, include, exclude).
        objects: output of :func:`select_objects` (most confident first).
        image: the image, passed to ``color_classifier``.
        color_classifier: needed only when a group names a colour.
        thresholds: uses ``position_threshold``.

    Returns:
        ``(correct, reason)``; ``reason`` lists the failures, one per line.
    """
    correct, reasons = True, []
    matched: list[list[Detection] | None] = []
    for group in metadata.get("include", []):
        cls, count = group["class"], group["count"]
        found = list(objects.get(cls, []))[:count]
        ok = True
        if len(found) < count:
            ok = False
            reasons.append(f"expected {cls}>={count}, found {len(found)}")
        else:
            if "color" in group:
                if color_classifier is None:
                    raise ValueError(f"prompt {metadata.get('prompt')!r} needs a colour classifier")
                colors = list(color_classifier(image, found, cls))
                if colors.count(group["color"]) < count:
                    ok = False
                    reasons.append(_color_reason(group, colors))
            if "position" in group and ok:
                rel, target = group["position"]
                if matched[target] is None:
                    ok = False
                    reasons.append(f"no target for {cls} to be {rel}")
                else:
                    why = _position_failure(
                        found, matched[target], rel, cls, thresholds.position_threshold
                    )
                    if why is not None:
                        ok = False
                        reasons.append(why)
        correct = correct and ok
        matched.append(found if ok else None)
    for group in metadata.get("exclude", []):
        cls = group["class"]
        if len(objects.get(cls, [])) >= group["count"]:
            correct = False
            reasons.append(f"expected {cls}<{group['count']}, found {len(objects[cls])}")
    return correct, "\n".join(reasons)


def object_extras(
    metadata: Mapping[str, Any], objects: Mapping[str, Sequence[Detection]]
) -> dict[str, Any]:
    """Reported beside the score, never changing it: objects the prompt did not ask for.

    ``extra_objects`` counts kept objects of classes the prompt never names;
    ``surplus_objects`` counts objects of included classes beyond the asked-for count.
    """
    wanted: dict[str, int] = {}
    for group in metadata.get("include", []):
        wanted[group["class"]] = wanted.get(group["class"], 0) + group["count"]
    named = set(wanted) | {g["class"] for g in metadata.get("exclude", [])}
    extra = {c: len(v) for c, v in sorted(objects.items()) if c not in named}
    surplus = sum(max(0, len(objects.get(c, [])) - n) for c, n in wanted.items())
    return {
        "extra_objects": sum(extra.values()),
        "extra_by_class": extra,
        "surplus_objects": surplus,
    }


@dataclass
class ImageScore:
    """Result of :func:`score_image`."""

    correct: bool
    reason: str
    objects: dict[str, list[Detection]]
    extras: dict[str, Any]

    def details_json(self) -> str:
        """The official ``details`` column: class -> ``[[x1, y1, x2, y2, score], ...]``."""
        return json.dumps({c: [d.row() for d in ds] for c, ds in self.objects.items()})


def score_image(
    metadata: Mapping[str, Any],
    detections: Mapping[str, Sequence[Detection]],
    image: Any = None,
    color_classifier: ColorClassifier | None = None,
    thresholds: Thresholds = Thresholds(),
) -> ImageScore:
    """Score one image from raw per-class detections of any detector.

    >>> det = {"dog": [Detection((0, 0, 10, 10), 0.95)], "cat": [Detection((30, 0, 40, 10), 0.8)]}
    >>> meta = {"tag": "position", "include": [{"class": "cat", "count": 1},
    ...         {"class": "dog", "count": 1, "position": ["left of", 0]}]}
    >>> score_image(meta, det).correct
    True
    """
    objects = select_objects(detections, metadata.get("tag", ""), thresholds)
    correct, reason = evaluate(metadata, objects, image, color_classifier, thresholds)
    return ImageScore(correct, reason, objects, object_extras(metadata, objects))

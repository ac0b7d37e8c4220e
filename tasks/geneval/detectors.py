"""Detector plugins for GenEval: shapes (exact), mmdet (the official one, if installed).

A detector is registered in ``hbench.harness.plugins.DETECTORS`` as a class with an
``Options`` dataclass; ``cls(options)`` does no I/O, :meth:`load` loads weights, and calling
it on a PIL image returns ``{class name: [Detection, ...]}`` with boxes in pixels and, when
the model gives them, full-image boolean masks. The transformers detectors live in
:mod:`hbench.tasks.geneval.hf_detection`.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from .metadata import read_object_names
from .rules import Detection


class Detector(Protocol):
    """What the GenEval suite needs from a detector."""

    Options: ClassVar[type]

    def load(self, device: str = "cpu") -> None:
        """Load weights (called once before the first image)."""

    def __call__(self, image: Any) -> dict[str, list[Detection]]:
        """Detections per GenEval class name for one PIL image."""


def build_options(cls: type, values: Mapping[str, Any] | None, what: str) -> Any:
    """Instantiate the options dataclass ``cls`` from a mapping; unknown keys are errors."""
    values = dict(values or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"{what}: unknown option(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(names))}"
        )
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if hints[key] is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what}: {err}") from err


def load_plugin(registry: Any, name: str, options: Mapping[str, Any] | None, what: str) -> Any:
    """Look up ``name`` in ``registry`` and construct it with validated options (no I/O)."""
    cls = registry.get(name)
    return cls(build_options(cls.Options, options, f"{what} {name!r}"))


# ------------------------------------------------------------------------------ shapes


@dataclass(frozen=True)
class ShapesDetectorOptions:
    """Thresholds of the exact shapes-world detector (see ``hbench.worlds.shapes.detect``)."""

    max_color_dist: float = 80.0
    min_pixels: int = 10


class ShapesDetector:
    """The exact shapes-world detector: classes circle/square/triangle, masks included."""

    Options: ClassVar[type] = ShapesDetectorOptions

    def __init__(self, options: ShapesDetectorOptions | None = None) -> None:
        # One import of the shapes world (world data, DESIGN.md) serves both methods.
        from hbench.worlds.shapes.detect import DetectorConfig, detect

        self._detect = detect
        self.options = options or ShapesDetectorOptions()
        self._cfg = DetectorConfig(
            max_color_dist=self.options.max_color_dist, min_pixels=self.options.min_pixels
        )

    def load(self, device: str = "cpu") -> None:
        """Nothing to load."""

    def __call__(self, image: Any) -> dict[str, list[Detection]]:
        found = self._detect(np.asarray(image.convert("RGB")), self._cfg)
        return {
            cls: [Detection(d.box, d.score, d.mask) for d in dets] for cls, dets in found.items()
        }


# ------------------------------------------------------------------------------ mmdet


@dataclass(frozen=True)
class MMDetOptions:
    """The official detector: an mmdet config and checkpoint (Mask2Former Swin-S in GenEval)."""

    config: str = ""
    checkpoint: str = ""
    object_names: str = ""  # object_names.txt, in the detector's class order
    device: str = "cpu"


class MMDetDetector:
    """mmdet's ``inference_detector``, as the official evaluator calls it (optional import)."""

    Options: ClassVar[type] = MMDetOptions

    def __init__(self, options: MMDetOptions | None = None) -> None:
        self.options = options or MMDetOptions()
        for key in ("config", "checkpoint", "object_names"):
            if not getattr(self.options, key):
                raise ValueError(f"detector 'mmdet' needs the option {key!r} (a local path)")
        self._model: Any = None
        self._classes: list[str] = []

    def load(self, device: str = "cpu") -> None:
        """Import mmdet and build the detector from the local config and checkpoint."""
        try:
            from mmdet.apis import init_detector
        except ImportError as err:
            raise ImportError(
                "detector 'mmdet' needs mmdet (GenEval uses mmdet 2.27 with mmcv-full), which is not "
                "installed; use detector 'hf-detection' with a local Mask2Former instead"
            ) from err
        self._classes = read_object_names(self.options.object_names)
        self._model = init_detector(
            self.options.config, self.options.checkpoint, device=self.options.device
        )

    def __call__(self, image: Any) -> dict[str, list[Detection]]:
        from mmdet.apis import inference_detector

        if self._model is None:
            self.load()
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # mmcv reads BGR
        result = inference_detector(self._model, bgr)
        bbox = result[0] if isinstance(result, tuple) else result
        segm = result[1] if isinstance(result, tuple) and len(result) > 1 else None
        if len(bbox) != len(self._classes):
            raise ValueError(
                f"mmdet returned {len(bbox)} classes but {self.options.object_names} has {len(self._classes)}"
            )
        out: dict[str, list[Detection]] = {}
        for i, cls in enumerate(self._classes):
            out[cls] = [
                Detection(
                    tuple(float(v) for v in row[:4]),
                    float(row[4]),
                    None if segm is None else np.asarray(segm[i][j], dtype=bool),
                )
                for j, row in enumerate(bbox[i])
            ]
        return out

"""transformers detectors for GenEval, loaded from a local folder (never a hub id).

Three kinds, chosen from the model's config (``kind="auto"``) or named:

* ``instance-segmentation`` (Mask2Former, MaskFormer; GenEval's own detector is a COCO
  Mask2Former): post-processed as mmdet does it for the official evaluator: class
  probabilities (softmax without "no object") for every query x class, the top
  ``max_per_image`` pairs, masks from mask logits > 0 at image size, score = class
  probability x mean mask probability inside the mask, box = the mask's bounding box.
* ``object-detection`` (DETR, Deformable DETR, RT-DETR, ...): the processor's
  ``post_process_object_detection`` with no threshold (GenEval applies its own); no masks.
* ``open-vocabulary`` (OWLv2, OWL-ViT): one text query per GenEval class
  (``query_template``), boxes on the padded square the processor makes, clipped to the image.

Model labels are mapped to GenEval class names (COCO's ``mouse``/``remote``/``keyboard``
become ``computer mouse``/``tv remote``/``computer keyboard``; ``label_map`` adds more);
with ``object_names`` set, labels outside that list are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from .metadata import read_object_names
from .rules import Detection

COCO_TO_GENEVAL: dict[str, str] = {
    "mouse": "computer mouse",
    "remote": "tv remote",
    "keyboard": "computer keyboard",
    "tvmonitor": "tv",
    "tv monitor": "tv",
    "motorbike": "motorcycle",
    "aeroplane": "airplane",
    "sofa": "couch",
    "pottedplant": "potted plant",
    "diningtable": "dining table",
    "hair dryer": "hair drier",
}
_INSTANCE_TYPES = {"mask2former", "maskformer"}
_OPEN_VOCAB_TYPES = {"owlv2", "owlvit"}
Kind = Literal["auto", "instance-segmentation", "object-detection", "open-vocabulary"]


@dataclass(frozen=True)
class HFDetectorOptions:
    """Where the model is and how its labels map to GenEval classes."""

    path: str = ""
    kind: Kind = "auto"
    object_names: str | None = None
    label_map: dict[str, str] = field(default_factory=dict)
    max_per_image: int = 100
    query_template: str = "a photo of a {}"
    device: str = "cpu"


def mask_to_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """Tight box ``(x1, y1, x2, y2)`` of a boolean mask, x2/y2 exclusive (mmdet's mask2bbox)."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if not len(xs) or not len(ys):
        return (0.0, 0.0, 0.0, 0.0)
    return (float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1))


class HFDetector:
    """A transformers detection / instance-segmentation model as a GenEval detector."""

    Options: ClassVar[type] = HFDetectorOptions

    def __init__(self, options: HFDetectorOptions | None = None) -> None:
        self.options = options or HFDetectorOptions()
        if not self.options.path:
            raise ValueError(
                "detector 'hf-detection' needs the option 'path' (a local model folder)"
            )
        if self.options.kind == "open-vocabulary" and not self.options.object_names:
            raise ValueError(
                "an open-vocabulary detector needs 'object_names' (the classes to query)"
            )
        if self.options.max_per_image < 1:
            raise ValueError(f"max_per_image must be >= 1, got {self.options.max_per_image}")
        self.model: Any = None
        self.processor: Any = None
        self.kind: str = self.options.kind
        self.classes: list[str] | None = None

    # ---------------------------------------------------------------- loading

    def load(self, device: str = "cpu") -> None:
        """Load config, processor and weights (safetensors) from the local folder."""
        import transformers as tf

        path = Path(self.options.path)
        if not path.is_dir():
            raise FileNotFoundError(f"detector 'hf-detection': model folder {path} does not exist")
        config = tf.AutoConfig.from_pretrained(path, local_files_only=True)
        if self.kind == "auto":
            mt = config.model_type
            self.kind = (
                "instance-segmentation" if mt in _INSTANCE_TYPES
                else "open-vocabulary" if mt in _OPEN_VOCAB_TYPES
                else "object-detection"
            )  # fmt: skip
        if self.options.object_names:
            self.classes = read_object_names(self.options.object_names)
        if self.kind == "open-vocabulary" and self.classes is None:
            raise ValueError(
                "an open-vocabulary detector needs 'object_names' (the classes to query)"
            )
        model_cls = {
            "instance-segmentation": tf.AutoModelForUniversalSegmentation,
            "object-detection": tf.AutoModelForObjectDetection,
            "open-vocabulary": tf.AutoModelForZeroShotObjectDetection,
        }[self.kind]
        kw = {"local_files_only": True, "use_safetensors": True}
        self.model = model_cls.from_pretrained(path, **kw).to(self.options.device).eval()
        loader = tf.AutoProcessor if self.kind == "open-vocabulary" else tf.AutoImageProcessor
        self.processor = loader.from_pretrained(path, local_files_only=True)

    def geneval_name(self, label: str) -> str | None:
        """GenEval class of a model label, or None when it is not a GenEval class."""
        name = self.options.label_map.get(label) or COCO_TO_GENEVAL.get(label, label)
        if self.classes is not None and name not in self.classes:
            return None
        return name

    # ---------------------------------------------------------------- inference

    def __call__(self, image: Any) -> dict[str, list[Detection]]:
        import torch

        if self.model is None:
            self.load()
        image = image.convert("RGB")
        with torch.inference_mode():
            if self.kind == "instance-segmentation":
                raw = self._instances(image)
            elif self.kind == "open-vocabulary":
                raw = self._open_vocabulary(image)
            else:
                raw = self._boxes(image)
        out: dict[str, list[Detection]] = {c: [] for c in self.classes or []}
        for name, det in raw:
            if name is not None:
                out.setdefault(name, []).append(det)
        return out

    def _label(self, index: int) -> str | None:
        label = self.model.config.id2label.get(int(index), str(index))
        return self.geneval_name(label)

    def _instances(self, image: Any) -> list[tuple[str | None, Detection]]:
        import torch.nn.functional as F

        inputs = self.processor(images=image, return_tensors="pt").to(self.options.device)
        out = self.model(**inputs)
        probs = out.class_queries_logits[0].float().softmax(-1)[:, :-1]  # drop "no object"
        n_queries, n_classes = probs.shape
        k = min(self.options.max_per_image, n_queries * n_classes)
        top, idx = probs.flatten().topk(k)
        labels, queries = idx % n_classes, idx // n_classes
        logits = out.masks_queries_logits[0][queries].float()[None]
        # mask logits -> padded input size -> crop the valid region -> original image size
        h_in, w_in = inputs["pixel_values"].shape[-2:]
        logits = F.interpolate(logits, size=(h_in, w_in), mode="bilinear", align_corners=False)
        if "pixel_mask" in inputs:
            valid = inputs["pixel_mask"][0].bool()
            h_in, w_in = int(valid.any(1).sum()), int(valid.any(0).sum())
            logits = logits[..., :h_in, :w_in]
        w0, h0 = image.size
        logits = F.interpolate(logits, size=(h0, w0), mode="bilinear", align_corners=False)[0]
        binary = logits > 0
        inside = binary.flatten(1).float()
        mask_score = (logits.sigmoid().flatten(1) * inside).sum(1) / (inside.sum(1) + 1e-6)
        scores = (top * mask_score).cpu().numpy()
        masks = binary.cpu().numpy()
        return [
            (self._label(lab), Detection(mask_to_box(m), float(s), m))
            for lab, s, m in zip(labels.tolist(), scores, masks, strict=True)
        ]

    def _boxes(self, image: Any) -> list[tuple[str | None, Detection]]:
        inputs = self.processor(images=image, return_tensors="pt").to(self.options.device)
        out = self.model(**inputs)
        w0, h0 = image.size
        res = self.processor.post_process_object_detection(
            out, threshold=0.0, target_sizes=[(h0, w0)]
        )[0]
        return self._top(res, w0, h0, self._label)

    def _open_vocabulary(self, image: Any) -> list[tuple[str | None, Detection]]:
        assert self.classes is not None
        queries = [self.options.query_template.format(c) for c in self.classes]
        inputs = self.processor(
            text=[queries], images=image, return_tensors="pt", truncation=True
        ).to(self.options.device)
        out = self.model(**inputs)
        w0, h0 = image.size
        side = max(w0, h0)  # OWLv2 pads to a square before resizing: boxes are relative to it
        res = self.processor.post_process_grounded_object_detection(
            out, threshold=0.0, target_sizes=[(side, side)]
        )[0]
        return self._top(res, w0, h0, lambda i: self.classes[int(i)])

    def _top(self, res: dict, w0: int, h0: int, name_of: Any) -> list[tuple[str | None, Detection]]:
        scores = res["scores"].float().cpu().numpy()
        order = np.argsort(-scores, kind="stable")[: self.options.max_per_image]
        boxes = res["boxes"].float().cpu().numpy()
        labels = res["labels"].cpu().numpy()
        out = []
        for i in order:
            x1, y1, x2, y2 = boxes[i]
            box = (
                float(np.clip(x1, 0, w0)), float(np.clip(y1, 0, h0)),
                float(np.clip(x2, 0, w0)), float(np.clip(y2, 0, h0)),
            )  # fmt: skip
            out.append((name_of(labels[i]), Detection(box, float(scores[i]))))
        return out

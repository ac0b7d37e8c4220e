"""Colour classifier plugins for GenEval: shapes (exact palette) and CLIP zero-shot (official).

A colour classifier is registered in ``hbench.harness.plugins.COLOR_CLASSIFIERS`` as a class
with an ``Options`` dataclass; ``cls(options)`` does no I/O and calling it as
``clf(image, objects, classname)`` returns one colour name per object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .metadata import GENEVAL_COLORS
from .rules import Detection

# The official prompt templates ("{c}" is the colour).
COLOR_TEMPLATES: tuple[str, ...] = (
    "a photo of a {{c}} {classname}",
    "a photo of a {{c}}-colored {classname}",
    "a photo of a {{c}} object",
)


def color_templates(classname: str) -> list[str]:
    """The three official templates for one class, still holding ``{c}`` for the colour.

    >>> [t.format(c="red") for t in color_templates("car")]
    ['a photo of a red car', 'a photo of a red-colored car', 'a photo of a red object']
    """
    return [t.format(classname=classname) for t in COLOR_TEMPLATES]


def color_crop(image: Any, det: Detection, bgcolor: str = "#999", crop: bool = True) -> Any:
    """The picture the official evaluator shows CLIP for one object.

    The object's mask composited over a plain ``bgcolor`` canvas (``"original"`` keeps the
    image as it is), then cropped to the box (PIL rounds the float box as the official does).
    """
    from PIL import Image

    image = image.convert("RGB")
    if det.mask is not None:
        if tuple(det.mask.shape) != (image.size[1], image.size[0]):
            raise ValueError(f"mask shape {det.mask.shape} does not match image size {image.size}")
        blank = (
            image.copy() if bgcolor == "original" else Image.new("RGB", image.size, color=bgcolor)
        )
        image = Image.composite(image, blank, Image.fromarray(np.asarray(det.mask, dtype=bool)))
    if crop:
        image = image.crop(tuple(det.box[:4]))
    return image


# ------------------------------------------------------------------------------ shapes


@dataclass(frozen=True)
class ShapesColorOptions:
    """Options of the exact palette classifier."""

    max_color_dist: float = 80.0


class ShapesColorClassifier:
    """Exact shapes-world colour: the palette colour most of the object's pixels are nearest to."""

    Options: ClassVar[type] = ShapesColorOptions

    def __init__(self, options: ShapesColorOptions | None = None) -> None:
        self.options = options or ShapesColorOptions()

    def load(self, device: str = "cpu") -> None:
        """Nothing to load."""

    def __call__(self, image: Any, objects: Sequence[Detection], classname: str) -> list[str]:
        from hbench.worlds.shapes.detect import DetectorConfig, classify_color

        cfg = DetectorConfig(max_color_dist=self.options.max_color_dist)
        pixels = np.asarray(image.convert("RGB"))
        out = []
        for det in objects:
            mask = det.mask
            if mask is None:  # box-only detector: use the box's pixels
                mask = np.zeros(pixels.shape[:2], dtype=bool)
                x1, y1, x2, y2 = (int(round(v)) for v in det.box)
                mask[y1:y2, x1:x2] = True
            out.append(classify_color(pixels, mask, cfg))
        return out


# ------------------------------------------------------------------------------ CLIP


@dataclass(frozen=True)
class ClipColorOptions:
    """open_clip zero-shot colour classifier, as in the official evaluator.

    Official: ``ViT-L-14`` with OpenAI weights. OpenAI's CLIP weights were trained with
    QuickGELU; open_clip applies it automatically only for ``pretrained="openai"``, so with a
    local checkpoint ``quick_gelu`` must be true for them (it is by default).
    ``checkpoint`` is an open_clip state dict in ``.safetensors``; ``model_config`` may name an
    open_clip model-config JSON for an architecture open_clip does not ship.
    """

    model: str = "ViT-L-14"
    checkpoint: str = ""
    model_config: str | None = None
    quick_gelu: bool = True
    bgcolor: str = "#999"
    crop: bool = True
    batch_size: int = 16
    device: str = "cpu"


class ClipColorClassifier:
    """Zero-shot colour over the ten GenEval colours with the three official templates."""

    Options: ClassVar[type] = ClipColorOptions

    def __init__(self, options: ClipColorOptions | None = None) -> None:
        self.options = options or ClipColorOptions()
        if not self.options.checkpoint:
            raise ValueError(
                "colour classifier 'clip' needs 'checkpoint' (a local .safetensors file)"
            )
        if Path(self.options.checkpoint).suffix != ".safetensors":
            raise ValueError(
                f"colour classifier 'clip': checkpoint {self.options.checkpoint} must be .safetensors "
                "(pickled checkpoints are not loaded)"
            )
        self.model: Any = None
        self.preprocess: Any = None
        self.tokenizer: Any = None
        self.text_weights: dict[str, Any] = {}  # classname -> (dim, 10) zero-shot weights

    def load(self, device: str = "cpu") -> None:
        """Build the open_clip model offline and load the local safetensors weights."""
        import open_clip
        from safetensors.torch import load_file

        o = self.options
        if o.model_config:
            open_clip.add_model_config(o.model_config)
        if not Path(o.checkpoint).is_file():
            raise FileNotFoundError(
                f"colour classifier 'clip': checkpoint {o.checkpoint} does not exist"
            )
        model, _, preprocess = open_clip.create_model_and_transforms(
            o.model, pretrained=None, force_quick_gelu=o.quick_gelu
        )
        model.load_state_dict(load_file(o.checkpoint), strict=True)
        self.model = model.to(o.device).eval()
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(o.model)

    def classifier(self, classname: str) -> Any:
        """Zero-shot weights for ``classname``: mean of normalised template embeddings, renormalised."""
        import torch
        import torch.nn.functional as F

        if classname not in self.text_weights:
            columns = []
            with torch.inference_mode():
                for color in GENEVAL_COLORS:
                    texts = [t.format(c=color) for t in color_templates(classname)]
                    emb = self.model.encode_text(self.tokenizer(texts).to(self.options.device))
                    mean = F.normalize(emb.float(), dim=-1).mean(dim=0)
                    columns.append(mean / mean.norm())
            self.text_weights[classname] = torch.stack(columns, dim=1)
        return self.text_weights[classname]

    def __call__(self, image: Any, objects: Sequence[Detection], classname: str) -> list[str]:
        import torch
        import torch.nn.functional as F

        if self.model is None:
            self.load()
        weights = self.classifier(classname)
        crops = [color_crop(image, d, self.options.bgcolor, self.options.crop) for d in objects]
        out: list[str] = []
        with torch.inference_mode():
            for i in range(0, len(crops), self.options.batch_size):
                batch = torch.stack(
                    [self.preprocess(c) for c in crops[i : i + self.options.batch_size]]
                )
                feats = F.normalize(
                    self.model.encode_image(batch.to(self.options.device)).float(), dim=-1
                )
                logits = 100.0 * feats @ weights
                out += [GENEVAL_COLORS[j] for j in logits.argmax(1).tolist()]
        return out

"""``clipscore``: prompt-image alignment with torchmetrics' ``CLIPScore`` and a local CLIP.

torchmetrics 1.9 builds its model from a hub name, or from a callable returning a
"CLIP compatible" ``(model, processor)`` pair whose ``get_image_features`` /
``get_text_features`` return tensors. transformers 5's ``CLIPModel`` returns
``BaseModelOutputWithPooling`` from those methods, which breaks torchmetrics' default
feature path; the callable seam takes :class:`~.models.ClipFeatures` (the local model with
tensor-returning feature methods) instead, so nothing in torchmetrics is patched.

Per-sample value: torchmetrics' per-sample score ``100 * cos(image, prompt)`` computed
from the same model and processor the ``CLIPScore`` object holds, on features cached per
image. (``CLIPScore.compute`` returns ``max(mean, 0)`` of these; the tests check that the
mean of our per-sample values equals it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from .base import SampleMetric, TextMetricOptions, check_paths
from .models import ClipFeatures, as_numpy, build_hf_clip, check_hf_clip, chw_uint8


@dataclass(frozen=True, kw_only=True)
class ClipScoreOptions(TextMetricOptions):
    """Options of ``clipscore``.

    Attributes:
        model: Folder of a transformers CLIP model (e.g. clip-vit-large-patch14, the
            torchmetrics default), config.json + safetensors.
        processor: Folder of its processor; empty: the model folder.
    """

    model: str
    processor: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_paths(self, {"model": "folder", "processor": "folder"})


def make_clip_score(model_dir: str, processor_dir: str, device: str) -> Any:
    """A torchmetrics ``CLIPScore`` over the local CLIP model (no hub access)."""
    from torchmetrics.multimodal.clip_score import CLIPScore

    model, processor = build_hf_clip(model_dir, processor_dir, "clipscore", device)
    metric = CLIPScore(model_name_or_path=lambda: (ClipFeatures(model), processor))
    return metric.to(device)


class ClipScoreMetric(SampleMetric):
    """CLIPScore through torchmetrics with a local transformers CLIP."""

    Options: ClassVar[type] = ClipScoreOptions
    needs_text: ClassVar[bool] = True
    description: ClassVar[str] = "CLIPScore: 100 x cos(image, prompt), torchmetrics, local CLIP"

    def __init__(self, options: ClipScoreOptions) -> None:
        super().__init__(options)
        self.metric: Any = None

    def weight_paths(self) -> dict[str, str]:
        return {"model": self.options.model, "processor": self.options.processor}

    def check(self) -> None:
        check_hf_clip(self.options.model, self.options.processor, "clipscore")

    def load(self, device: str) -> None:
        self.metric = make_clip_score(self.options.model, self.options.processor, device)
        super().load(device)

    @torch.inference_mode()
    def image_features(self, images: list[Image.Image]) -> np.ndarray:
        # The image form and processor call of torchmetrics' _get_features.
        px = self.metric.processor(
            images=[chw_uint8(im) for im in images], return_tensors="pt", padding=True
        )
        emb = self.metric.model.get_image_features(px["pixel_values"].to(self.device))
        return as_numpy(torch.nn.functional.normalize(emb, dim=-1))

    @torch.inference_mode()
    def text_features(self, texts: list[str]) -> np.ndarray:
        tok = self.metric.processor(text=texts, return_tensors="pt", padding=True)
        limit = self.metric.model.config.text_config.max_position_embeddings
        ids, mask = tok["input_ids"][..., :limit], tok["attention_mask"][..., :limit]
        emb = self.metric.model.get_text_features(ids.to(self.device), mask.to(self.device))
        return as_numpy(torch.nn.functional.normalize(emb, dim=-1))

    def score(self, image_features: np.ndarray, text_features: np.ndarray | None) -> np.ndarray:
        assert text_features is not None
        return 100.0 * np.sum(image_features * text_features, axis=-1)

"""Human-preference scores: HPSv2 (open_clip) and PickScore (transformers CLIP).

* ``hpsv2``: the HPSv2 / HPSv2.1 reward model is an open_clip ViT-H-14 whose state dict is
  replaced by the HPS checkpoint (``HPS_v2_compressed.pt`` / ``HPS_v2.1_compressed.pt``,
  a ``{"state_dict": ...}`` torch file, or the same tensors as safetensors). Score =
  ``scale * cos(image embedding, prompt embedding)``; the official ``score.py`` prints the
  cosine itself and papers report it x100, hence ``scale: 100`` by default.
* ``pickscore``: PickScore_v1 is a CLIP-H checkpoint in transformers' format, used with
  the processor of ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``. Score =
  ``logit_scale.exp() * cos(image, prompt)``, as in its model card.

Image and text embeddings are cached L2-normalised, so the score is a dot product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from .base import SampleMetric, TextMetricOptions, check_paths, to_rgb
from .models import (
    ClipFeatures,
    as_numpy,
    build_hf_clip,
    build_open_clip,
    check_hf_clip,
    max_text_tokens,
    read_tensor,
)


@dataclass(frozen=True, kw_only=True)
class HPSv2Options(TextMetricOptions):
    """Options of ``hpsv2``.

    Attributes:
        checkpoint: The HPS checkpoint (safetensors, or the official ``.pt`` loaded with
            ``weights_only=True``).
        model: open_clip architecture (HPSv2: ``ViT-H-14``).
        model_config: JSON file of an extra open_clip architecture (tests use a tiny one).
        quick_gelu: Build with QuickGELU (HPSv2: no).
        scale: Factor on the cosine (100: the scale papers report).
    """

    checkpoint: str
    model: str = "ViT-H-14"
    model_config: str = ""
    quick_gelu: bool = False
    scale: float = 100.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_paths(self, {"checkpoint": "file", "model_config": "file"})


class HPSv2Metric(SampleMetric):
    """HPSv2-style preference score (open_clip model + preference checkpoint)."""

    Options: ClassVar[type] = HPSv2Options
    needs_text: ClassVar[bool] = True
    description: ClassVar[str] = "HPSv2 human preference: scale x cos(image, prompt), open_clip"
    score_options: ClassVar[tuple[str, ...]] = ("scale",)

    def __init__(self, options: HPSv2Options) -> None:
        super().__init__(options)
        self.model: Any = None
        self.preprocess: Any = None
        self.tokenizer: Any = None

    def weight_paths(self) -> dict[str, str]:
        return {"checkpoint": self.options.checkpoint, "model_config": self.options.model_config}

    def check(self) -> None:
        check_paths(self.options, {"checkpoint": "file", "model_config": "file"})

    def load(self, device: str) -> None:
        o = self.options
        self.model, self.preprocess, self.tokenizer = build_open_clip(
            o.model, o.checkpoint, model_config=o.model_config, quick_gelu=o.quick_gelu,
            device=device,
        )  # fmt: skip
        super().load(device)

    @torch.inference_mode()
    def image_features(self, images: list[Image.Image]) -> np.ndarray:
        batch = torch.stack([self.preprocess(to_rgb(im)) for im in images]).to(self.device)
        return as_numpy(self.model.encode_image(batch, normalize=True))

    @torch.inference_mode()
    def text_features(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer(texts).to(self.device)
        return as_numpy(self.model.encode_text(tokens, normalize=True))

    def score(self, image_features: np.ndarray, text_features: np.ndarray | None) -> np.ndarray:
        assert text_features is not None
        return self.options.scale * np.sum(image_features * text_features, axis=-1)


@dataclass(frozen=True, kw_only=True)
class PickScoreOptions(TextMetricOptions):
    """Options of ``pickscore``.

    Attributes:
        model: Folder of the PickScore model (transformers CLIP: config.json + safetensors).
        processor: Folder of its processor (PickScore uses CLIP-ViT-H-14-laion2B's);
            empty: the model folder.
    """

    model: str
    processor: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_paths(self, {"model": "folder", "processor": "folder"})


class PickScoreMetric(SampleMetric):
    """PickScore-style preference score (transformers CLIP + preference checkpoint)."""

    Options: ClassVar[type] = PickScoreOptions
    needs_text: ClassVar[bool] = True
    description: ClassVar[str] = "PickScore: logit_scale x cos(image, prompt), transformers CLIP"

    def __init__(self, options: PickScoreOptions) -> None:
        super().__init__(options)
        self.model: Any = None
        self.processor: Any = None

    def weight_paths(self) -> dict[str, str]:
        return {"model": self.options.model, "processor": self.options.processor}

    def check(self) -> None:
        check_hf_clip(self.options.model, self.options.processor, "pickscore")

    def load(self, device: str) -> None:
        model, self.processor = build_hf_clip(
            self.options.model, self.options.processor, "pickscore", device
        )
        self.model = ClipFeatures(model)
        super().load(device)

    @torch.inference_mode()
    def image_features(self, images: list[Image.Image]) -> np.ndarray:
        px = self.processor(images=[to_rgb(im) for im in images], return_tensors="pt")
        emb = self.model.get_image_features(px["pixel_values"].to(self.device))
        return as_numpy(torch.nn.functional.normalize(emb, dim=-1))

    @torch.inference_mode()
    def text_features(self, texts: list[str]) -> np.ndarray:
        tok = self.processor(text=texts, padding=True, truncation=True,
                             max_length=max_text_tokens(self.model), return_tensors="pt")  # fmt: skip
        emb = self.model.get_text_features(
            tok["input_ids"].to(self.device), tok["attention_mask"].to(self.device)
        )
        return as_numpy(torch.nn.functional.normalize(emb, dim=-1))

    def score(self, image_features: np.ndarray, text_features: np.ndarray | None) -> np.ndarray:
        assert text_features is not None
        # Read from the weights file, so a fully cached re-scoring builds no model.
        scale = float(np.exp(read_tensor(self.options.model, "logit_scale").item()))
        return scale * np.sum(image_features * text_features, axis=-1)

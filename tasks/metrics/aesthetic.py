"""``aesthetic``: a LAION-style aesthetic predictor over CLIP image embeddings.

The LAION aesthetic predictor v2 ("improved aesthetic predictor") is a small MLP over the
L2-normalised image embedding of OpenAI CLIP ViT-L/14: Linear(768, 1024), Dropout,
Linear(1024, 128), Dropout, Linear(128, 64), Dropout, Linear(64, 16), Linear(16, 1),
stored with keys ``layers.{0,2,4,6,7}.{weight,bias}``. The v1 predictor is one Linear
(keys ``weight``, ``bias``). The head's structure is read from its state dict (so both
load, and tests can use a narrower head); the CLIP backbone is an open_clip model with a
local state dict (``ViT-L-14`` with QuickGELU for OpenAI's weights).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from .base import MetricOptions, SampleMetric, check_paths, load_state_dict, to_rgb
from .models import as_numpy, build_open_clip

_LAYER = re.compile(r"^layers\.(\d+)\.weight$")


class MLPHead(torch.nn.Module):
    """The v2 predictor's layout: ``layers`` is a Sequential of Linear (and gap) modules."""

    def __init__(self, layers: torch.nn.Sequential) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores, ``(B, 1)``."""
        return self.layers(x)


def build_head(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The aesthetic head a state dict describes (MLP ``layers.N`` or a single Linear).

    Raises:
        ValueError: A state dict of neither form.
    """
    if set(state) == {"weight", "bias"}:
        head: torch.nn.Module = torch.nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
    else:
        idx = sorted(int(m.group(1)) for k in state if (m := _LAYER.match(k)))
        if not idx:
            raise ValueError(
                "aesthetic head: expected keys layers.N.weight/bias (MLP) or weight/bias (linear), "
                f"got {', '.join(sorted(state)[:6])}"
            )
        mods: list[torch.nn.Module] = [torch.nn.Identity() for _ in range(idx[-1] + 1)]
        for i in idx:  # the gaps are Dropout in training, identity in eval
            w = state[f"layers.{i}.weight"]
            mods[i] = torch.nn.Linear(w.shape[1], w.shape[0])
        head = MLPHead(torch.nn.Sequential(*mods))
    head.load_state_dict(state, strict=True)
    return head.eval()


@dataclass(frozen=True, kw_only=True)
class AestheticOptions(MetricOptions):
    """Options of ``aesthetic``.

    Attributes:
        head: The predictor head's weights (safetensors, or a weights-only ``.pth``).
        clip_checkpoint: open_clip state dict of the backbone.
        clip_model: open_clip architecture (v2 predictor: ``ViT-L-14``).
        model_config: JSON file of an extra open_clip architecture (tests use a tiny one).
        quick_gelu: QuickGELU activations (OpenAI-trained backbones: yes).
    """

    head: str
    clip_checkpoint: str
    clip_model: str = "ViT-L-14"
    model_config: str = ""
    quick_gelu: bool = True
    batch_size: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        check_paths(self, {"head": "file", "clip_checkpoint": "file", "model_config": "file"})


class AestheticMetric(SampleMetric):
    """Aesthetic score: MLP/linear head over normalised CLIP image embeddings."""

    Options: ClassVar[type] = AestheticOptions
    description: ClassVar[str] = "LAION aesthetic predictor: MLP head over CLIP image embeddings"
    score_options: ClassVar[tuple[str, ...]] = ("head",)

    def __init__(self, options: AestheticOptions) -> None:
        super().__init__(options)
        self.model: Any = None
        self.preprocess: Any = None
        self._head: torch.nn.Module | None = None

    def weight_paths(self) -> dict[str, str]:
        o = self.options
        return {"clip_checkpoint": o.clip_checkpoint, "model_config": o.model_config}

    def check(self) -> None:
        check_paths(
            self.options, {"head": "file", "clip_checkpoint": "file", "model_config": "file"}
        )

    def load(self, device: str) -> None:
        o = self.options
        self.model, self.preprocess, _ = build_open_clip(
            o.clip_model, o.clip_checkpoint, model_config=o.model_config,
            quick_gelu=o.quick_gelu, device=device,
        )  # fmt: skip
        super().load(device)

    def head(self) -> torch.nn.Module:
        """The head (loaded on first use; cheap, so cached features need no backbone)."""
        if self._head is None:
            self._head = build_head(load_state_dict(self.options.head))
        return self._head

    @torch.inference_mode()
    def image_features(self, images: list[Image.Image]) -> np.ndarray:
        batch = torch.stack([self.preprocess(to_rgb(im)) for im in images]).to(self.device)
        return as_numpy(self.model.encode_image(batch, normalize=True))

    @torch.inference_mode()
    def score(self, image_features: np.ndarray, text_features: np.ndarray | None) -> np.ndarray:
        head = self.head()
        w = next(head.parameters())
        if image_features.shape[1] != w.shape[1]:
            raise ValueError(
                f"aesthetic head takes {w.shape[1]}-d embeddings, the backbone gives "
                f"{image_features.shape[1]}-d"
            )
        out = head(torch.from_numpy(image_features).to(w.dtype))
        return as_numpy(out).reshape(-1)

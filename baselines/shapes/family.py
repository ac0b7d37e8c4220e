"""The shapes family: the embedded miniature of BAGEL + Hyper-Bagel.

Each variant pairs a text engine (understanding) with an image engine (generation and
editing). The accelerated variants change only the swapped component:

==========  ============================  ==========================================
variant     text engine                   image engine
==========  ============================  ==========================================
oracle      exact detector + grammar      exact renderer (the perfect reference)
baseline    trained target, KV greedy     teacher, 50 Euler steps + CFG (BAGEL-style)
spec        target + EAGLE-style head     teacher (same images as baseline)
nfe6        target, KV greedy             6-NFE distilled student
nfe1        target, KV greedy             1-NFE distilled student
euler6      target, KV greedy             teacher, 6 Euler steps + CFG, undistilled
==========  ============================  ==========================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from hbench.harness.system import EDIT, GENERATE, UNDERSTAND, TextOutput

from .oracle import OracleImageEngine, OracleTextEngine

WEIGHTS_DIR = Path(__file__).parent / "weights"

# variant -> (text engine kind, image engine kind)
VARIANTS: dict[str, tuple[str, str]] = {
    "oracle": ("oracle", "oracle"),
    "baseline": ("greedy", "teacher"),
    "spec": ("spec", "teacher"),
    "nfe6": ("greedy", "nfe6"),
    "nfe1": ("greedy", "nfe1"),
    "euler6": ("greedy", "euler6"),
}


@dataclass(frozen=True)
class ShapesOptions:
    """Options of the shapes family.

    Attributes:
        weights: Directory with the trained weights (default: the shipped ones).
        text_weights: Directory of the understanding files only (default: ``weights``), e.g.
            a freshly trained target beside the shipped generator.
        image_weights: Directory of the generator files only (default: ``weights``).
        spec_k: Draft tokens per verification in the ``spec`` variant (12: measured best
            end to end for the shipped head once drafting stops at EOS; 46.7 ms per caption
            against 53.7 at k=6, 2026-11-22).
    """

    weights: str | None = None
    text_weights: str | None = None
    image_weights: str | None = None
    spec_k: int = 12

    def __post_init__(self) -> None:
        if not 1 <= self.spec_k <= 16:
            raise ValueError(f"spec_k must be in 1..16, got {self.spec_k}")


def _text_engine(kind: str, options: ShapesOptions) -> Any:
    if kind == "oracle":
        return OracleTextEngine()
    from .understanding import build_text_engine  # torch/transformers only when needed

    extra = {"k": options.spec_k} if kind == "spec" else {}
    return build_text_engine(kind, _weights(options.text_weights or options.weights), **extra)


def _image_engine(kind: str, options: ShapesOptions) -> Any:
    if kind == "oracle":
        return OracleImageEngine()
    from .generator import build_image_engine

    return build_image_engine(kind, _weights(options.image_weights or options.weights))


def _weights(folder: str | None) -> Path:
    path = Path(folder) if folder else WEIGHTS_DIR
    if not path.is_dir():
        raise FileNotFoundError(f"shapes weights directory not found: {path}")
    return path


def _to_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


class ShapesSystem:
    """One variant of the shapes family: a text engine and an image engine."""

    family: ClassVar[str] = "shapes"
    capabilities = frozenset({UNDERSTAND, GENERATE, EDIT})

    def __init__(self, variant: str, text_engine: Any, image_engine: Any) -> None:
        self.variant = variant
        self.text = text_engine
        self.image = image_engine

    def load(self, device: str, dtype: torch.dtype) -> None:
        self.text.load(device, dtype)
        self.image.load(device, dtype)

    def understand(
        self, images: Sequence[Image.Image], prompt: str, max_new_tokens: int
    ) -> TextOutput:
        image = _to_array(images[0]) if images else None
        return self.text.understand(image, prompt, max_new_tokens)

    def generate(self, prompt: str, seed: int) -> Image.Image:
        return Image.fromarray(self.image.generate(prompt, seed))

    def edit(self, image: Image.Image, instruction: str, seed: int) -> Image.Image:
        return Image.fromarray(self.image.edit(_to_array(image), instruction, seed))

    def profiled_modules(self) -> dict[str, torch.nn.Module]:
        return {**self.text.modules(), **self.image.modules()}

    def describe(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "text": self.text.describe(),
            "image": self.image.describe(),
        }


class ShapesFamily:
    """Registry entry ``shapes``: builds :class:`ShapesSystem` variants."""

    name: ClassVar[str] = "shapes"
    variants: ClassVar[dict[str, str]] = {
        "oracle": "perfect reference: exact renderer and exact detector",
        "baseline": "trained target (KV-cached greedy) + teacher sampler (50 Euler steps, CFG)",
        "spec": "baseline with EAGLE-style speculative decoding",
        "nfe6": "6-NFE distilled generator (guidance distilled in)",
        "nfe1": "1-NFE distilled generator",
        "euler6": "teacher with 6 Euler steps + CFG, no distillation (honest few-step baseline)",
    }
    reference: ClassVar[str] = "baseline"
    bounds: ClassVar[tuple[str, ...]] = ("oracle",)  # the exact oracle bounds quality from above
    Options: ClassVar[type] = ShapesOptions

    @classmethod
    def build(cls, variant: str, options: ShapesOptions) -> ShapesSystem:
        text_kind, image_kind = VARIANTS[variant]
        return ShapesSystem(
            variant, _text_engine(text_kind, options), _image_engine(image_kind, options)
        )

"""Test helpers of the metrics tests: the ``metrics-test`` family (clean / blurred images)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from PIL import Image, ImageFilter


def blur(image: Image.Image) -> Image.Image:
    """3x3 box blur (the ``blurred`` variant's degradation)."""
    return image.filter(ImageFilter.BoxBlur(1))


class DegradedSystem:
    """The shapes oracle, optionally with its images blurred."""

    family: ClassVar[str] = "metrics-test"

    def __init__(self, variant: str) -> None:
        from hbench.baselines.shapes.family import ShapesFamily, ShapesOptions

        self.variant = variant
        self.inner = ShapesFamily.build("oracle", ShapesOptions())
        self.capabilities = frozenset({"generate", "edit"})

    def load(self, device: str, dtype: torch.dtype) -> None:
        self.inner.load(device, dtype)

    def _out(self, image: Image.Image) -> Image.Image:
        return blur(image) if self.variant == "blurred" else image

    def generate(self, prompt: str, seed: int) -> Image.Image:
        return self._out(self.inner.generate(prompt, seed))

    def edit(self, image: Image.Image, instruction: str, seed: int) -> Image.Image:
        return self._out(self.inner.edit(image, instruction, seed))

    def profiled_modules(self) -> dict[str, torch.nn.Module]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"variant": self.variant}


@dataclass(frozen=True)
class MetricsTestOptions:
    """No family options."""


class DegradedFamily:
    """Registry entry ``metrics-test``: ``clean`` (reference) and ``blurred``."""

    name: ClassVar[str] = "metrics-test"
    variants: ClassVar[dict[str, str]] = {"clean": "oracle renders", "blurred": "box-blurred"}
    reference: ClassVar[str] = "clean"
    Options: ClassVar[type] = MetricsTestOptions

    @classmethod
    def build(cls, variant: str, options: Any) -> DegradedSystem:
        return DegradedSystem(variant)

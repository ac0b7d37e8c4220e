"""Oracle engines of the shapes family: the perfect reference (GenEval's "real images" row).

Text-to-image renders a scene that satisfies the prompt exactly; editing detects the source
scene, applies the parsed instruction and renders the result; understanding detects the
scene and answers from it. No network is involved, so no NFE is counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from hbench.harness.system import TextOutput
from hbench.worlds.shapes.geneval_format import scene_for_metadata
from hbench.worlds.shapes.parse import (
    answer,
    parse_geneval_prompt,
    parse_instruction,
    scene_from_image,
)
from hbench.worlds.shapes.render import render


class OracleTextEngine:
    """Answers captions and questions from the exactly detected scene."""

    kind = "oracle"

    def load(self, device: str, dtype: torch.dtype) -> None:
        """Nothing to load."""

    def understand(self, image: np.ndarray | None, prompt: str, max_new_tokens: int) -> TextOutput:
        if image is None:
            raise ValueError("the shapes oracle needs an image to answer about")
        text = answer(scene_from_image(image), prompt)
        words = text.split()[:max_new_tokens]
        return TextOutput(" ".join(words), [], {"new_tokens": len(words)})

    def modules(self) -> dict[str, torch.nn.Module]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}


class OracleImageEngine:
    """Renders the scene a prompt or an instruction describes."""

    kind = "oracle"

    def load(self, device: str, dtype: torch.dtype) -> None:
        """Nothing to load."""

    def generate(self, prompt: str, seed: int) -> np.ndarray:
        meta = parse_geneval_prompt(prompt)
        return render(scene_for_metadata(meta, np.random.default_rng(seed)))

    def edit(self, image: np.ndarray, instruction: str, seed: int) -> np.ndarray:
        source = scene_from_image(image)
        return render(parse_instruction(instruction, source, np.random.default_rng(seed)).expected)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}

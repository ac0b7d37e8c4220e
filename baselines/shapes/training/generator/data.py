"""Training samples for the shapes generator: GenEval-format T2I scenes and edit pairs.

Everything is drawn from the world's own samplers, so the data are unlimited and exact.
Position and colour-binding prompts are oversampled (the calibration note found them
the slowest to learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hbench.baselines.shapes.generator.pixels import to_tensor
from hbench.worlds.shapes import (
    COLORS,
    EDIT_KINDS,
    SHAPES,
    TAGS,
    render,
    sample_edit,
    scene_for_metadata,
)
from hbench.worlds.shapes.geneval_format import make_metadata

# Share of each GenEval tag among text-to-image samples.
TAG_WEIGHTS: dict[str, float] = {
    "single_object": 0.10, "two_object": 0.15, "counting": 0.15,
    "colors": 0.10, "position": 0.25, "color_attr": 0.25,
}  # fmt: skip
EDIT_SHARE = 0.45  # fraction of samples that are edit pairs


@dataclass
class Batch:
    """A training batch: targets and sources in [-1, 1] ``(B,3,32,32)``, texts, edit flags."""

    target: torch.Tensor
    source: torch.Tensor
    texts: list[str]
    is_edit: torch.Tensor


def parse_tag_weights(spec: str) -> dict[str, float]:
    """``TAG_WEIGHTS`` with ``"tag=w,..."`` overrides, renormalised to sum to 1."""
    weights = dict(TAG_WEIGHTS)
    for item in filter(None, (x.strip() for x in spec.split(","))):
        tag, sep, value = item.partition("=")
        if not sep or tag not in weights:
            raise ValueError(
                f"tag weight {item!r}: expected TAG=WEIGHT with TAG in {list(weights)}"
            )
        try:
            weights[tag] = float(value)
        except ValueError:
            raise ValueError(f"tag weight {item!r}: {value!r} is not a number") from None
        if weights[tag] < 0:
            raise ValueError(f"tag weight {item!r}: must be >= 0")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"tag weights {spec!r}: at least one must be > 0")
    return {tag: w / total for tag, w in weights.items()}


def t2i_sample(
    rng: np.random.Generator, tag_weights: dict[str, float] | None = None
) -> tuple[np.ndarray, str]:
    """One (image, prompt) pair for a tag drawn from ``tag_weights`` (``TAG_WEIGHTS``)."""
    weights = tag_weights or TAG_WEIGHTS
    tags = list(weights)
    tag = tags[int(rng.choice(len(tags), p=np.array(list(weights.values()))))]
    meta = make_metadata(tag, rng, SHAPES, COLORS)
    return render(scene_for_metadata(meta, rng)), meta["prompt"]


def edit_sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """One (source, expected, instruction) triple of a uniformly drawn edit kind."""
    kind = EDIT_KINDS[int(rng.integers(len(EDIT_KINDS)))]
    edit = sample_edit(rng, kind)
    return render(edit.source), render(edit.expected), edit.instruction


def make_batch(
    rng: np.random.Generator,
    size: int,
    edit_share: float = EDIT_SHARE,
    tag_weights: dict[str, float] | None = None,
) -> Batch:
    """A mixed batch; T2I rows get an all-zero source image (InstructPix2Pix convention)."""
    n_edit = int(rng.binomial(size, edit_share))
    targets, sources, texts = [], [], []
    blank = np.full((32, 32, 3), 127.5, dtype=np.float32)  # maps to 0.0 in [-1, 1]
    for _ in range(size - n_edit):
        img, prompt = t2i_sample(rng, tag_weights)
        targets.append(img)
        sources.append(blank)
        texts.append(prompt)
    for _ in range(n_edit):
        src, exp, instr = edit_sample(rng)
        targets.append(exp)
        sources.append(src)
        texts.append(instr)
    is_edit = torch.zeros(size, dtype=torch.bool)
    is_edit[size - n_edit :] = True
    return Batch(to_tensor(targets), to_tensor(sources), texts, is_edit)


__all__ = [
    "TAGS",
    "Batch",
    "make_batch",
    "parse_tag_weights",
    "t2i_sample",
    "edit_sample",
]

"""Shapes-world caption and VQA samples, drawn from each item's own seed.

Item seeds come from (run seed, suite, sample id), a different stream from the training
seeds of the shapes models, so these are held-out scenes.
"""

from __future__ import annotations

import numpy as np

from hbench.worlds.shapes import (
    CAPTION_PROMPT,
    QA_KINDS,
    caption,
    caption_scene,
    render,
    sample_vqa,
)

from .loaders import Sample


def shapes_caption_sample(sample_id: str, seed: int) -> tuple[Sample, np.ndarray]:
    """A caption question: the canonical description is the answer."""
    scene = caption_scene(np.random.default_rng(seed))
    s = Sample(
        id=sample_id,
        question=CAPTION_PROMPT,
        answer=caption(scene),
        category="caption",
        kind="caption",
    )
    return s, render(scene)


def shapes_vqa_sample(sample_id: str, seed: int, index: int) -> tuple[Sample, np.ndarray]:
    """A VQA question; kinds rotate with ``index`` so the four kinds are balanced."""
    scene, q = sample_vqa(np.random.default_rng(seed), QA_KINDS[index % len(QA_KINDS)])
    s = Sample(id=sample_id, question=q.question, answer=q.answer, category=q.kind, kind="vqa")
    return s, render(scene)

"""Shapes-world caption and VQA samples, drawn from each item's own seed.

Item seeds come from (run seed, suite, sample id), a different stream from the training
seeds of the shapes models, so these are held-out scenes.
"""

from __future__ import annotations

import numpy as np

from hbench.worlds.shapes import (
    CAPTION_PROMPT,
    caption,
    caption_scene,
    questions,
    render,
    vqa_scene,
)

from .loaders import Sample

QA_KINDS: tuple[str, ...] = ("count", "color", "shape", "relation")


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
    rng = np.random.default_rng(seed)
    want = QA_KINDS[index % len(QA_KINDS)]
    while True:
        scene = vqa_scene(rng)
        hits = [q for q in questions(scene, rng) if q.kind == want]
        if hits:
            q = hits[0]
            s = Sample(
                id=sample_id, question=q.question, answer=q.answer, category=q.kind, kind="vqa"
            )
            return s, render(scene)

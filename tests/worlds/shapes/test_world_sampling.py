"""The one VQA sampler that the understanding suite and the shapes models' training share."""

from __future__ import annotations

import numpy as np

from hbench.baselines.shapes.training.understanding.data import vqa_example
from hbench.tasks.understanding.shapes_tasks import shapes_vqa_sample
from hbench.worlds.shapes import QA_KINDS, questions, render, sample_vqa, vqa_scene


def test_sample_vqa_asks_the_kind_about_its_scene():
    for seed in range(40):
        kind = QA_KINDS[seed % len(QA_KINDS)]
        scene, qa = sample_vqa(np.random.default_rng(seed), kind)
        assert qa.kind == kind
        # replaying the draws gives the scene's question list, with qa its first of the kind
        rng = np.random.default_rng(seed)
        while True:
            again = vqa_scene(rng)
            hits = [q for q in questions(again, rng) if q.kind == kind]
            if hits:
                break
        assert again == scene and hits[0] == qa


def test_suite_and_training_draw_the_same_question_from_a_seed():
    for seed in range(20):
        kind = QA_KINDS[seed % len(QA_KINDS)]
        sample, image = shapes_vqa_sample(f"v{seed}", seed, seed)
        example = vqa_example(np.random.default_rng(seed), kind)
        assert (sample.question, sample.answer, sample.category) == (
            example.prompt,
            example.answer,
            example.task,
        )
        assert np.array_equal(image, example.image)


def test_kind_none_mixes_kinds():
    rng = np.random.default_rng(0)
    kinds = {sample_vqa(rng)[1].kind for _ in range(60)}
    assert kinds == set(QA_KINDS)
    assert render(sample_vqa(rng)[0]).shape[-1] == 3

"""Grammars and parsers: GenEval-format prompts, captions, questions and edits round-trip."""

from __future__ import annotations

import numpy as np
import pytest

from hbench.worlds.shapes import (
    CAPTION_PROMPT,
    EDIT_KINDS,
    TAGS,
    caption,
    caption_scene,
    check_edit,
    final_answer,
    questions,
    render,
    sample_edit,
    scene_for_metadata,
    shapes_metadata_set,
    vqa_scene,
)  # fmt: skip
from hbench.worlds.shapes.parse import (
    answer,
    parse_geneval_prompt,
    parse_instruction,
    scene_from_image,
)  # fmt: skip


def test_metadata_schema_and_templates():
    records = shapes_metadata_set(8, seed=0)
    assert {r["tag"] for r in records} == set(TAGS)
    for r in records:
        assert r["prompt"].startswith("a photo of ")
        if r["tag"] == "counting":
            (inc,), (exc,) = r["include"], r["exclude"]
            assert 2 <= inc["count"] <= 4 and exc["count"] == inc["count"] + 1
        if r["tag"] == "color_attr":
            assert r["include"][0]["color"] != r["include"][1]["color"]
        if r["tag"] == "position":
            assert r["include"][1]["position"][1] == 0
        assert parse_geneval_prompt(r["prompt"]) == {**r, "prompt": r["prompt"]}


def test_scene_for_metadata_holds_exactly_the_groups():
    rng = np.random.default_rng(1)
    for r in shapes_metadata_set(10, seed=1):
        scene = scene_for_metadata(r, rng)
        assert len(scene.objects) == sum(g["count"] for g in r["include"])
        for g in r["include"]:
            assert scene.count(shape=g["class"], color=g.get("color")) >= g["count"]


def test_captions_and_questions_answered_from_the_image():
    rng = np.random.default_rng(2)
    for _ in range(100):
        scene = caption_scene(rng)
        seen = scene_from_image(render(scene))
        text = caption(scene)
        assert 10 <= len(text.split()) <= 30
        assert answer(seen, CAPTION_PROMPT) == text
        for qa in questions(scene, rng):
            assert answer(seen, qa.question) == qa.answer


def test_statements_end_with_the_answer_and_state_true_facts():
    """A restated answer ends with the answer word; a relation's fact holds in the image."""
    rng = np.random.default_rng(5)
    kinds = set()
    for _ in range(150):
        scene = vqa_scene(rng)
        seen = scene_from_image(render(scene))
        for qa in questions(scene, rng):
            kinds.add(qa.kind)
            assert final_answer(qa.statement) == qa.answer
            if qa.kind == "relation":  # "the A is REL the B . yes ." -> "is the A REL the B ?"
                fact = qa.statement.split(" . ")[0]
                subject, _, rest = fact.partition(" is ")
                assert answer(seen, f"is {subject} {rest} ?") == "yes"
            else:  # it names the queried object: the circle, the red object, circles
                noun = qa.question.split()[2 if qa.kind == "count" else 4]
                assert noun in qa.statement.split()[:-2]
    assert kinds == {"count", "color", "shape", "relation"}


@pytest.mark.parametrize("kind", EDIT_KINDS)
def test_edit_checker(kind):
    rng = np.random.default_rng(3)
    for i in range(40):
        edit = sample_edit(rng, kind)
        assert check_edit(edit, render(edit.expected)).success
        unchanged = check_edit(edit, render(edit.source))
        assert not unchanged.fulfilled
        redone = parse_instruction(
            edit.instruction, scene_from_image(render(edit.source)), np.random.default_rng(i)
        )
        assert check_edit(edit, render(redone.expected)).success


def test_wrong_object_edited_is_not_preserved():
    rng = np.random.default_rng(4)
    for _ in range(30):
        edit = sample_edit(rng, "color_alter", min_objects=2, max_objects=3)
        other = next(o for o in edit.source.objects if o is not edit.target)
        wrong = parse_instruction(
            f"remove the {other.color} {other.shape} .", edit.source, np.random.default_rng(0)
        )
        result = check_edit(edit, render(wrong.expected))
        assert not result.fulfilled and not result.preserved


def test_unparseable_text_names_it():
    with pytest.raises(ValueError, match="not a shapes-world GenEval prompt: 'a photo of a dog'"):
        parse_geneval_prompt("a photo of a dog")

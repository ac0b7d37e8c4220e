"""The exact shapes judge: oracle edits get 10 everywhere, failed edits get low SC."""

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageFilter

from hbench.tasks.gedit.judges import JudgeError, JudgeInput, make_judge
from hbench.tasks.gedit.shapes_source import COVERED_TYPES, edit_to_dict, shapes_edits
from hbench.worlds.shapes import COLORS, EDIT_KINDS, Scene, render

JUDGE = make_judge("shapes")
EDITS = shapes_edits(
    COVERED_TYPES, 20, seed=123
)  # 120 edits; the suite's own set is tested in the suite test


def _judge(edit, scene_or_image):
    img = scene_or_image if isinstance(scene_or_image, np.ndarray) else render(scene_or_image)
    src = Image.fromarray(render(edit.source))
    return JUDGE.judge(JudgeInput(src, Image.fromarray(img), edit.instruction, edit_to_dict(edit)))


def wrong_object_scene(edit) -> Scene | None:
    """What an editor that acts on the wrong thing produces (None if the scene has no other object)."""
    src = edit.source
    others = [o for o in src.objects if o != edit.target]
    if edit.kind == "subject-add":  # right object, wrong cell: the result's cell is required
        return None
    if edit.kind == "background_change":  # recolours an object instead of the background
        if not src.objects:
            return None
        first, *rest = src.objects
        return Scene(
            (replace(first, color=next(c for c in COLORS if c != first.color)), *rest),
            src.background,
        )
    if not others:
        return None
    victim = others[0]
    rest = tuple(o for o in src.objects if o is not victim)
    if edit.kind == "subject-remove":
        return Scene(rest, src.background)
    if edit.kind == "motion_change":
        x, y = (min(v, 32 - victim.size) for v in (edit.result.x, edit.result.y))  # stay inside
        return Scene((*rest, replace(victim, x=x, y=y)), src.background)
    return Scene(
        (*rest, replace(victim, shape=edit.result.shape, color=edit.result.color)), src.background
    )


def test_oracle_gets_the_maximum_on_every_sample():
    default_set = shapes_edits(COVERED_TYPES, 8, seed=0)  # the suite's default edit set
    for sid, edit in EDITS + default_set:
        s = _judge(edit, edit.expected)
        assert (s.sc_scores, s.pq_scores, s.overall) == ([10.0, 10.0], [10.0, 10.0], 10.0), (
            sid,
            s.reason,
        )


def test_unchanged_image_gets_zero_sc_on_every_type():
    seen = set()
    for sid, edit in EDITS:
        s = _judge(edit, edit.source)
        assert s.sc_scores[0] == 0.0 and s.sc == 0.0 and s.overall == 0.0, sid
        assert s.pq == 10.0  # a clean rendering: quality is not what failed
        seen.add(edit.kind)
    assert seen == set(EDIT_KINDS)


def test_wrong_object_edit_gets_zero_sc():
    kinds = set()
    for sid, edit in EDITS:
        wrong = wrong_object_scene(edit)
        if wrong is None:
            continue
        s = _judge(edit, wrong)
        assert s.sc == 0.0, (sid, edit.instruction, s.reason)
        assert s.sc_scores[1] < 10.0, sid  # and something that should have stayed did not
        kinds.add(edit.kind)
    assert kinds == set(EDIT_KINDS) - {"subject-add"}


def test_over_editing_lowers_the_second_sc_score_only():
    sid, edit = next(
        (s, e) for s, e in EDITS if e.kind == "color_alter" and len(e.source.objects) >= 2
    )
    keep = [o for o in edit.expected.objects if o is not edit.result]
    removed = Scene(
        tuple(o for o in edit.expected.objects if o is not keep[0]), edit.expected.background
    )
    s = _judge(edit, removed)
    kept = len(edit.expected.objects) - 1 + 1  # other objects + background
    assert s.sc_scores == [10.0, pytest.approx(10.0 * (1 - 1 / kept))], sid
    s = _judge(edit, replace(edit.expected, background="black"))
    assert s.sc_scores[0] == 10.0 and s.sc_scores[1] < 10.0


def test_blur_and_noise_lower_pq():
    _, edit = EDITS[0]
    clean = render(edit.expected)
    blurred = np.asarray(Image.fromarray(clean).filter(ImageFilter.GaussianBlur(1.0)))
    noisy = np.clip(
        clean.astype(int) + np.random.default_rng(0).integers(-40, 41, clean.shape), 0, 255
    )
    pq_blur = _judge(edit, blurred).pq
    pq_noise = _judge(edit, noisy.astype(np.uint8)).pq
    assert 0.0 <= pq_blur < 10.0 and 0.0 <= pq_noise < 10.0


def test_needs_a_shapes_edit():
    img = Image.new("RGB", (32, 32))
    with pytest.raises(JudgeError, match="carries no shapes edit"):
        JUDGE.judge(JudgeInput(img, img, "do it", None))

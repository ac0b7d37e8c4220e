"""Every official GenEval rule on hand-built detections (no detector, no model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hbench.tasks.geneval.rules import (
    Detection,
    Thresholds,
    compute_iou,
    relative_position,
    score_image,
    select_objects,
)


def det(x1: float, y1: float, x2: float, y2: float, score: float = 0.95) -> Detection:
    return Detection((x1, y1, x2, y2), score)


class BoxColors:
    """A colour classifier that names colours by box (hand-built ground truth); logs its calls."""

    def __init__(self, by_box: dict[tuple, str]) -> None:
        self.by_box = by_box
        self.calls: list[tuple[str, int]] = []

    def __call__(self, image, objects, classname):
        self.calls.append((classname, len(objects)))
        return [self.by_box[o.box] for o in objects]


SINGLE = {
    "tag": "single_object",
    "include": [{"class": "dog", "count": 1}],
    "prompt": "a photo of a dog",
}
TWO = {
    "tag": "two_object",
    "include": [{"class": "dog", "count": 1}, {"class": "cat", "count": 1}],
    "prompt": "a photo of a dog and a cat",
}
COUNT3 = {
    "tag": "counting",
    "include": [{"class": "dog", "count": 3}],
    "exclude": [{"class": "dog", "count": 4}],
    "prompt": "a photo of three dogs",
}
RED_CAR = {
    "tag": "colors",
    "include": [{"class": "car", "count": 1, "color": "red"}],
    "prompt": "a photo of a red car",
}
COLOR_ATTR = {
    "tag": "color_attr",
    "include": [
        {"class": "car", "count": 1, "color": "red"},
        {"class": "bus", "count": 1, "color": "blue"},
    ],
    "prompt": "a photo of a red car and a blue bus",
}


def position(rel: str, target_count: int = 1, color: str | None = None) -> dict:
    dog = {"class": "dog", "count": 1, "position": [rel, 0]}
    if color:
        dog["color"] = color
    return {
        "tag": "position",
        "include": [{"class": "cat", "count": target_count}, dog],
        "prompt": f"a photo of a dog {rel} a cat",
    }


# ---------------------------------------------------------------- tags pass and fail


def test_single_object_pass_and_fail():
    assert score_image(SINGLE, {"dog": [det(0, 0, 10, 10)]}).correct
    res = score_image(SINGLE, {"cat": [det(0, 0, 10, 10)]})
    assert not res.correct and res.reason == "expected dog>=1, found 0"


def test_confidence_threshold_is_strictly_greater_than_0_3():
    assert not score_image(SINGLE, {"dog": [det(0, 0, 10, 10, 0.3)]}).correct
    assert score_image(SINGLE, {"dog": [det(0, 0, 10, 10, 0.31)]}).correct
    assert not score_image(
        SINGLE, {"dog": [det(0, 0, 10, 10, 0.5)]}, thresholds=Thresholds(threshold=0.6)
    ).correct


def test_two_object_pass_and_fail():
    dets = {"dog": [det(0, 0, 10, 10)], "cat": [det(20, 0, 30, 10)]}
    assert score_image(TWO, dets).correct
    res = score_image(TWO, {"dog": [det(0, 0, 10, 10)]})
    assert not res.correct and res.reason == "expected cat>=1, found 0"


def test_counting_pass_fail_and_exclude():
    three = [det(i * 20, 0, i * 20 + 10, 10) for i in range(3)]
    assert score_image(COUNT3, {"dog": three}).correct
    res = score_image(COUNT3, {"dog": three[:2]})
    assert not res.correct and res.reason == "expected dog>=3, found 2"
    four = [*three, det(70, 0, 80, 10)]
    res = score_image(COUNT3, {"dog": four})
    assert not res.correct and res.reason == "expected dog<4, found 4"


def test_counting_threshold_0_9_applies_to_counting_only():
    three = [det(i * 20, 0, i * 20 + 10, 10) for i in range(2)] + [det(40, 0, 50, 10, 0.85)]
    res = score_image(COUNT3, {"dog": three})
    assert not res.correct and res.reason == "expected dog>=3, found 2"
    # a fourth dog below 0.9 is not counted, so the exclude (>= 4) does not fire
    four = [det(i * 20, 0, i * 20 + 10, 10) for i in range(3)] + [det(70, 0, 80, 10, 0.89)]
    assert score_image(COUNT3, {"dog": four}).correct
    # exactly 0.9 is not above the threshold
    at = [det(i * 20, 0, i * 20 + 10, 10, 0.9) for i in range(3)]
    assert not score_image(COUNT3, {"dog": at}).correct
    # the same 0.85 detection counts for a non-counting tag
    assert score_image(SINGLE, {"dog": [det(0, 0, 10, 10, 0.85)]}).correct
    assert score_image(
        COUNT3, {"dog": three}, thresholds=Thresholds(counting_threshold=0.8)
    ).correct


def test_max_16_objects_per_class():
    many = [det(i * 12, 0, i * 12 + 10, 10) for i in range(20)]
    cap = {"tag": "counting", "include": [{"class": "dog", "count": 1}],
           "exclude": [{"class": "dog", "count": 17}], "prompt": "p"}  # fmt: skip
    assert len(select_objects({"dog": many}, "counting")["dog"]) == 16
    assert score_image(cap, {"dog": many}).correct  # only 16 survive, 16 < 17
    four = {"tag": "counting", "include": [{"class": "dog", "count": 4}],
            "exclude": [{"class": "dog", "count": 5}], "prompt": "p"}  # fmt: skip
    assert score_image(four, {"dog": many}).reason == "expected dog<5, found 16"
    assert (
        score_image(four, {"dog": many}, thresholds=Thresholds(max_objects=3)).reason
        == "expected dog>=4, found 3"
    )


def test_exclude_clauses_are_ored():
    meta = {"tag": "single_object", "include": [{"class": "dog", "count": 1}],
            "exclude": [{"class": "cat", "count": 1}, {"class": "cow", "count": 2}], "prompt": "p"}  # fmt: skip
    dog = [det(0, 0, 10, 10)]
    assert score_image(meta, {"dog": dog, "cow": [det(20, 0, 30, 10)]}).correct
    res = score_image(meta, {"dog": dog, "cow": [det(20, 0, 30, 10), det(40, 0, 50, 10)]})
    assert not res.correct and res.reason == "expected cow<2, found 2"
    assert not score_image(meta, {"dog": dog, "cat": [det(20, 0, 30, 10)]}).correct


def test_colors_pass_and_fail_with_official_reason():
    car = det(0, 0, 10, 10)
    assert score_image(RED_CAR, {"car": [car]}, None, BoxColors({car.box: "red"})).correct
    res = score_image(RED_CAR, {"car": [car]}, None, BoxColors({car.box: "blue"}))
    assert not res.correct
    assert res.reason == "expected red car>=1, found 0 red; and 1 blue"


def test_colour_is_checked_on_the_top_count_objects_only():
    top, second = det(0, 0, 10, 10, 0.99), det(20, 0, 30, 10, 0.8)
    # detector order must not matter: the most confident object is the one checked
    colors = BoxColors({top.box: "blue", second.box: "red"})
    res = score_image(RED_CAR, {"car": [second, top]}, None, colors)
    assert not res.correct and colors.calls == [("car", 1)]
    colors = BoxColors({top.box: "red", second.box: "blue"})
    assert score_image(RED_CAR, {"car": [second, top]}, None, colors).correct


def test_color_attr_pass_and_fail():
    car, bus = det(0, 0, 10, 10), det(20, 0, 30, 10)
    dets = {"car": [car], "bus": [bus]}
    assert score_image(COLOR_ATTR, dets, None, BoxColors({car.box: "red", bus.box: "blue"})).correct
    res = score_image(COLOR_ATTR, dets, None, BoxColors({car.box: "blue", bus.box: "red"}))
    assert not res.correct
    assert res.reason.split("\n") == [
        "expected red car>=1, found 0 red; and 1 blue",
        "expected blue bus>=1, found 0 blue; and 1 red",
    ]


def test_colour_prompt_without_classifier_is_an_error():
    with pytest.raises(ValueError, match="colour classifier"):
        score_image(RED_CAR, {"car": [det(0, 0, 10, 10)]})


# ---------------------------------------------------------------- position


CAT = det(40, 40, 60, 60)  # centre (50, 50), 20 x 20
PLACES = {
    "left of": det(0, 40, 20, 60),
    "right of": det(80, 40, 100, 60),
    "above": det(40, 0, 60, 20),
    "below": det(40, 80, 60, 100),
}
OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


@pytest.mark.parametrize("rel", list(PLACES))
def test_each_relation_passes_and_its_opposite_fails(rel):
    dets = {"cat": [CAT], "dog": [PLACES[rel]]}
    assert score_image(position(rel), dets).correct
    res = score_image(position(OPPOSITE[rel]), dets)
    assert not res.correct
    assert res.reason == f"expected dog {OPPOSITE[rel]} target, found {rel} target"


def test_position_margin_0_1():
    # equal 20 px boxes: the offset shrinks by 0.1 * (20 + 20) = 4 px, then must exceed
    # half of the full offset's length along the axis
    def dog_at(dx: float) -> Detection:
        return det(40 + dx, 40, 60 + dx, 60)

    assert relative_position(dog_at(-8).box, CAT.box) == set()  # 4 / 8 = 0.5, not > 0.5
    assert relative_position(dog_at(-8.1).box, CAT.box) == {"left of"}
    assert relative_position(dog_at(-3.9).box, CAT.box) == set()  # inside the margin
    assert relative_position(dog_at(-8).box, CAT.box, threshold=0.0) == {"left of"}
    res = score_image(position("left of"), {"cat": [CAT], "dog": [dog_at(-8)]})
    assert not res.correct and res.reason == "expected dog left of target, found  target"
    assert score_image(position("left of"), {"cat": [CAT], "dog": [dog_at(-8)]},
                       thresholds=Thresholds(position_threshold=0.0)).correct  # fmt: skip


def test_diagonal_offsets():
    assert relative_position((20, 30, 40, 50), CAT.box) == {"left of"}  # offset (-20, -10)
    assert relative_position((10, 10, 30, 30), CAT.box) == {"left of", "above"}  # (-30, -30)
    assert relative_position((30, 30, 50, 50), CAT.box) == set()  # (-10, -10): both shrink
    res = score_image(position("right of"), {"cat": [CAT], "dog": [det(10, 10, 30, 30)]})
    assert res.reason == "expected dog right of target, found above and left of target"


def test_position_is_checked_against_every_object_of_the_target_group():
    cat1, cat2, cat3 = det(40, 0, 60, 20, 0.99), det(0, 0, 20, 20, 0.98), det(200, 0, 220, 20, 0.5)
    dog = det(100, 0, 120, 20)
    meta = position("right of", target_count=2)
    assert score_image(meta, {"cat": [cat1, cat2], "dog": [dog]}).correct
    # dog is left of a third cat, but the target group is only its top-2 cats
    assert score_image(meta, {"cat": [cat1, cat2, cat3], "dog": [dog]}).correct
    # the dog is right of cat1 but not of cat2
    res = score_image(meta, {"cat": [cat1, det(150, 0, 170, 20, 0.98)], "dog": [dog]})
    assert not res.correct and res.reason == "expected dog right of target, found left of target"


def test_position_target_group_that_failed():
    res = score_image(position("left of"), {"dog": [PLACES["left of"]]})
    assert not res.correct
    assert res.reason.split("\n") == ["expected cat>=1, found 0", "no target for dog to be left of"]
    # a target group that failed its colour check is no target either
    meta = {"tag": "position", "prompt": "p", "include": [
        {"class": "cat", "count": 1, "color": "red"}, {"class": "dog", "count": 1, "position": ["left of", 0]}]}  # fmt: skip
    res = score_image(
        meta, {"cat": [CAT], "dog": [PLACES["left of"]]}, None, BoxColors({CAT.box: "blue"})
    )
    assert res.reason.split("\n")[1] == "no target for dog to be left of"


def test_position_is_skipped_when_the_group_failed_its_colour():
    dog = PLACES["right of"]  # wrong place too, but only the colour failure is reported
    res = score_image(
        position("left of", color="red"),
        {"cat": [CAT], "dog": [dog]},
        None,
        BoxColors({dog.box: "blue"}),
    )
    assert res.reason == "expected red dog>=1, found 0 red; and 1 blue"


# ---------------------------------------------------------------- de-duplication, extras


def test_iou_deduplication_is_off_by_default():
    a, b = det(0, 0, 10, 10, 0.95), det(1, 0, 11, 10, 0.94)
    assert compute_iou(a.box, b.box) == pytest.approx(110 / 132)
    assert len(select_objects({"dog": [a, b]}, "single_object")["dog"]) == 2
    kept = select_objects({"dog": [b, a]}, "single_object", Thresholds(max_overlap=0.5))["dog"]
    assert kept == [a]
    assert len(select_objects({"dog": [a, b]}, "x", Thresholds(max_overlap=0.9))["dog"]) == 2


def test_extras_never_change_the_score():
    dets = {
        "dog": [det(0, 0, 10, 10), det(20, 0, 30, 10)],
        "cat": [det(40, 0, 50, 10)],
        "cow": [det(0, 0, 1, 1, 0.1)],
    }
    res = score_image(SINGLE, dets)
    assert res.correct
    assert res.extras == {"extra_objects": 1, "extra_by_class": {"cat": 1}, "surplus_objects": 1}
    rows = json.loads(res.details_json())
    assert sorted(rows["dog"]) == [[0.0, 0.0, 10.0, 10.0, 0.95], [20.0, 0.0, 30.0, 10.0, 0.95]]
    assert "cow" not in rows


def test_thresholds_are_validated():
    with pytest.raises(ValueError, match="counting_threshold"):
        Thresholds(counting_threshold=1.5)
    with pytest.raises(ValueError, match="max_objects"):
        Thresholds(max_objects=0)


def test_equal_scores_follow_numpy_argsort_as_the_official_or_detector_order():
    dets = [
        det(i * 12, 0, i * 12 + 10, 10, s)
        for i, s in enumerate([1.0, 0.5, 1.0, 1.0, 0.2, 1.0, 1.0, 1.0, 1.0])
    ]
    scores = np.asarray([d.score for d in dets], dtype=np.float32)
    official = [dets[i] for i in np.argsort(scores)[::-1] if scores[i] > 0.3]
    assert select_objects({"dog": dets}, "single_object")["dog"] == official
    stable = select_objects({"dog": dets}, "single_object", Thresholds(tie_order="stable"))["dog"]
    assert stable == [d for d in dets if d.score == 1.0] + [dets[1]]
    with pytest.raises(ValueError, match="tie_order"):
        Thresholds(tie_order="random")


def test_thresholds_compare_in_float32_as_the_official_evaluator():
    # mmdet's scores are float32 and numpy compares them with float32(0.3): a detector score
    # of exactly float32(0.3) (0.30000001..., above the Python float 0.3) is not kept.
    at_03, at_09 = float(np.float32(0.3)), float(np.float32(0.9))
    assert at_03 > 0.3  # what a Python-float comparison would keep (float32(0.9) is below 0.9)
    assert not score_image(SINGLE, {"dog": [det(0, 0, 10, 10, at_03)]}).correct
    above = float(np.nextafter(np.float32(0.3), np.float32(1)))
    assert score_image(SINGLE, {"dog": [det(0, 0, 10, 10, above)]}).correct
    three = [det(i * 20, 0, i * 20 + 10, 10, at_09) for i in range(3)]
    assert not score_image(COUNT3, {"dog": three}).correct
    scores = np.array([at_03, above, 0.2], dtype=np.float32)  # the official expression
    assert (scores > 0.3).tolist() == [False, True, False]
    assert [d.score for d in select_objects({"dog": [det(0, 0, 1, 1, s) for s in scores.tolist()]}, "single_object")["dog"]] == [above]  # fmt: skip

"""Answer extraction rules (yes/no, option letter, open answers) and scoring."""

from __future__ import annotations

import pytest

from hbench.tasks.understanding.extraction import (
    extract_option,
    extract_yes_no,
    open_answer_correct,
)
from hbench.tasks.understanding.loaders import Sample
from hbench.tasks.understanding.scoring import circular_accuracy, mme_scores, score_sample


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Yes", "yes"),
        ("no", "no"),
        ("Yes, there is a dog.", "yes"),
        ("No, it is not.", "no"),
        ("There is no dog", "other"),
        ("  NO.", "no"),
        ("maybe", "other"),
        ("", "other"),
    ],
)
def test_yes_no_follows_mme_rule(text, want):
    assert extract_yes_no(text) == want


OPTS = {"A": "red circle", "B": "blue square", "C": "green triangle", "D": "none"}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("B", "B"),
        ("(C)", "C"),
        ("Answer: D", "D"),
        ("B. blue square", "B"),
        ("C) green", "C"),
        ("the blue square", "B"),
        ("E", None),
        ("I think it is A or B", None),
        ("nothing here", None),
        ("B because A is wrong", "B"),
        ("a red circle", "A"),
    ],
)
def test_option_letter_extraction(text, want):
    assert extract_option(text, OPTS) == want


def test_option_text_must_be_unique():
    assert extract_option("red circle and blue square", OPTS) is None


@pytest.mark.parametrize(
    ("text", "gold", "want"),
    [
        ("42", "42", True),
        ("The answer is 3.14", "3.14", True),
        ("1,000", "1000", True),
        ("41", "42", False),
        ("Paris", "paris", True),
        ("It is Paris.", ["paris", "Paris, France"], True),
        ("Lyon", "paris", False),
    ],
)
def test_open_answers(text, gold, want):
    assert open_answer_correct(text, gold) is want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("red", True),
        ("two objects . a red circle in the top left . a blue square in the center . red", True),
        ("one object . a red circle in the top left . blue", False),
        ("red circle .", False),  # the answer is the last word, not any word
        ("", False),
    ],
)
def test_shapes_vqa_scores_the_last_word(text, want):
    sample = Sample(id="q", question="what color is the circle ?", answer="red", kind="vqa")
    assert score_sample(sample, text)[0] is want
    caption = Sample(id="c", question="describe the image .", answer="red", kind="caption")
    assert score_sample(caption, text)[0] is (text == "red")  # captions stay exact


def test_mme_scores_acc_plus_and_totals():
    rows = [
        {"category": "existence", "group": "e/1", "correct": True},
        {"category": "existence", "group": "e/1", "correct": True},
        {"category": "existence", "group": "e/2", "correct": True},
        {"category": "existence", "group": "e/2", "correct": False},
        {"category": "code_reasoning", "group": "c/1", "correct": False},
        {"category": "code_reasoning", "group": "c/1", "correct": False},
    ]
    s = mme_scores(rows)
    assert s["tasks"]["existence"] == {
        "acc": 75.0,
        "acc_plus": 50.0,
        "score": 125.0,
        "questions": 4,
    }
    assert s["perception"] == 125.0
    assert s["cognition"] == 0.0


def test_circular_accuracy_needs_all_copies():
    rows = [
        {"group": "1", "correct": True},
        {"group": "1", "correct": False},
        {"group": "2", "correct": True},
        {"group": "2", "correct": True},
    ]
    assert circular_accuracy(rows)["circular_accuracy"] == 0.5
    assert circular_accuracy(rows[:1] + rows[2:3]) is None

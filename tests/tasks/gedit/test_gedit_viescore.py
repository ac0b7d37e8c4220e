"""VIEScore prompts (exact official text) and the strict score parser."""

import hashlib

import pytest

from hbench.tasks.gedit.viescore import (
    PQ_PROMPT,
    SC_TEMPLATE,
    ScoreParseError,
    parse_scores,
    sc_prompt,
)

# sha256 of the prompts GEdit-Bench's VIEScore(task="tie") assembles from vie_prompts.py
# (context_no_delimit + 0shot two-image edit rule + 0shot tie SC rule; context + 0shot PQ rule).
SC_SHA256 = "8f529562c2f89f8db51a3f7cc4d487686f676909c21010b67b0e65ec78150de5"
PQ_SHA256 = "2473ff2c7406e06545c5c039ceb039ff2604ebacf150868a48f0bf07c9e733b0"


def test_prompts_are_the_official_text():
    assert hashlib.sha256(SC_TEMPLATE.encode()).hexdigest() == SC_SHA256
    assert hashlib.sha256(PQ_PROMPT.encode()).hexdigest() == PQ_SHA256
    p = sc_prompt("make the sky <b>red</b>")
    assert p.endswith("Editing instruction: make the sky <b>red</b>\n") and "<instruction>" not in p


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{"score": [7, 3], "reasoning": "fine"}', [7.0, 3.0]),
        ('Sure!\n||V^=^V||\n{\n"score" : [10, 0],\n"reasoning" : "x"\n}\n||V^=^V||', [10.0, 0.0]),
        ('```json\n{"score": [4, 5], "reasoning": "multi\nline"}\n```', [4.0, 5.0]),
        ('{"score": [6, 8], "reasoning": "unterminated', [6.0, 8.0]),  # broken JSON, score fragment
        ("[6, 0]", [6.0, 0.0]),
        ('{"score": [7.5, 9]}', [7.5, 9.0]),
    ],
)
def test_parse_accepts_official_answer_shapes(text, want):
    assert parse_scores(text) == want


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("I think it is good.", "no score list"),
        ("7", "no score list"),  # a lone number is not two scores
        ('{"score": [7], "reasoning": "x"}', "expected 2 scores, got 1"),
        ('{"score": [7, 3, 2]}', "expected 2 scores, got 3"),
        ('{"score": [11, 3]}', "outside 0-10"),
        ('{"score": [-1, 3]}', "outside 0-10"),
        ('{"score": ["high", 3]}', "not a number"),
        ('{"score": [true, 3]}', "not a number"),
        ('"score": [7, oops]', "malformed score list"),
        ("", "no score list"),
        ('{"score": [7, 3]}{"score": [2, 9]}', "2 score lists"),
    ],
)
def test_parse_rejects_instead_of_guessing(text, match):
    with pytest.raises(ScoreParseError, match=match):
        parse_scores(text)

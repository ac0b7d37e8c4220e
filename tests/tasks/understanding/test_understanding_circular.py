"""MMBench CircularEval under the ``official`` profile, and the profile's bookkeeping."""

from __future__ import annotations

import base64
import io

import pandas as pd
import pytest
from PIL import Image

from hbench.harness.suite import Artifacts
from hbench.harness.system import TextOutput
from hbench.tasks.understanding.protocols import CIRCULAR_STRIDE, official_prompt, rotations
from hbench.tasks.understanding.suite import UnderstandingConfig, UnderstandingSuite

TEXTS = ["cat", "dog", "bird", "fish"]


class _NoFiles(Artifacts):
    def save_image(self, item, image, tag=""):
        raise AssertionError("the understanding suite saves no images")

    def path(self, *parts):
        raise AssertionError("the understanding suite writes no files")


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _tsv(path, rows):
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def _question(index: int, answer: str, texts=TEXTS, **extra):
    opts = dict(zip("ABCD", texts, strict=False))
    return {"index": index, "question": f"Which animal {index}?", "hint": "", **opts,
            "answer": answer, "category": "animals", "image": _png(), **extra}  # fmt: skip


def _run(suite: UnderstandingSuite, answer_for) -> tuple[list[dict], dict]:
    """Score every item with the answers ``answer_for(item, sample)`` gives; returns the
    records and the summary."""
    records = []
    for item in suite.items(0):
        s = suite._sample_only(item)
        out = TextOutput(answer_for(item, s), token_ids=[1])
        res = suite.evaluate(item, out, _NoFiles())
        records.append(
            {
                "sample": item.sample,
                "output": res.output,
                "metrics": res.metrics,
                "details": res.details,
                "error": None,
            }  # fmt: skip
        )
    return records, suite.summarize(records)


def test_rotations_shift_options_and_follow_the_tsv_index_layout(tmp_path):
    path = _tsv(tmp_path / "mmbench_dev_en.tsv", [_question(7, "B")])
    suite = UnderstandingSuite(UnderstandingConfig("mmbench", str(path), None, protocol="official"))
    samples = [suite._sample_only(it) for it in suite.items(0)]
    assert [s.id for s in samples] == [str(7 + k * CIRCULAR_STRIDE) for k in range(4)]
    assert {s.group for s in samples} == {"7"}
    for k, s in enumerate(samples):
        assert list(s.options.values()) == TEXTS[k:] + TEXTS[:k]
        assert s.options[s.answer] == "dog"  # the right option text moves with the rotation
        assert f"\n{s.answer}. dog\n" in official_prompt(s)


def test_right_in_three_of_four_rotations_scores_zero(tmp_path):
    path = _tsv(tmp_path / "mmbench_dev_en.tsv", [_question(1, "B"), _question(2, "C")])
    suite = UnderstandingSuite(UnderstandingConfig("mmbench", str(path), None, protocol="official"))

    def model(item, s):  # question 1: wrong in the last rotation; question 2: always right
        if s.group == "1" and int(s.id) >= 3 * CIRCULAR_STRIDE:
            return next(k for k in s.options if k != s.answer)
        return s.answer

    records, summary = _run(suite, model)
    assert len(records) == 8
    assert summary["accuracy"] == pytest.approx(7 / 8)  # plain accuracy over every rotation
    assert summary["circular_accuracy"] == 0.5  # question 1 scores 0, question 2 scores 1
    assert summary["overall"] == 0.5 and summary["headline"] == "circular_accuracy"
    assert suite.protocol_card().headline == "circular_accuracy"


def test_tsv_circular_copies_are_used_as_laid_out(tmp_path):
    """The official TSVs already hold the copies (index + k * 1e6): they are not rotated again."""
    rows = [
        _question(3, "A", ["cat", "dog"]),
        _question(3 + CIRCULAR_STRIDE, "B", ["dog", "cat"]),
    ]
    path = _tsv(tmp_path / "mmbench_dev_en.tsv", rows)
    suite = UnderstandingSuite(UnderstandingConfig("mmbench", str(path), None, protocol="official"))
    items = suite.items(0)
    assert len(items) == 2
    _, summary = _run(suite, lambda item, s: "A")  # always "A": right once, wrong once
    assert summary["circular_accuracy"] == 0.0 and summary["accuracy"] == 0.5


def test_strict_profile_keeps_single_rows_and_plain_accuracy(tmp_path):
    path = _tsv(tmp_path / "mmbench_dev_en.tsv", [_question(1, "B")])
    suite = UnderstandingSuite(UnderstandingConfig("mmbench", str(path), None))
    assert len(suite.items(0)) == 1
    _, summary = _run(suite, lambda item, s: "B")
    assert summary["accuracy"] == 1.0 and "overall" not in summary
    card = suite.protocol_card()
    assert card.protocol == "strict" and not card.comparable


def test_rotation_keeps_a_question_without_its_answer_among_the_options():
    from hbench.tasks.understanding.loaders import Sample

    s = Sample(id="5", options={"A": "x", "B": "y"}, answer="E", kind="choice", style="mmbench")
    assert rotations(s) == [s]


def test_unknown_protocol_is_a_one_line_error(tmp_path):
    path = _tsv(tmp_path / "mmbench_dev_en.tsv", [_question(1, "B")])
    with pytest.raises(ValueError, match="Unknown understanding protocol 'oficial'.*official"):
        UnderstandingConfig("mmbench", str(path), None, protocol="oficial")


@pytest.mark.parametrize(
    ("benchmark", "samples", "comparable"),
    [("mme", None, True), ("mmbench", None, True), ("mmmu", None, False), ("mme", 10, False)],
)
def test_protocol_cards_say_whether_numbers_are_comparable(
    tmp_path, benchmark, samples, comparable
):
    from hbench.tasks.understanding.protocols import PROTOCOLS, protocol_card

    card = protocol_card(PROTOCOLS.get("official"), benchmark, samples, True)
    assert card.comparable is comparable and card.why
    assert any("eval/vlm/eval" in f for f in card.follows)
    assert not protocol_card(PROTOCOLS.get("official"), benchmark, None, False).comparable

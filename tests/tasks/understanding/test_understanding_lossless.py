"""Lossless comparison: token-level divergences and the sampling-mode distribution test."""

from __future__ import annotations

import numpy as np

from hbench.tasks.understanding.lossless import (
    compare_tokens,
    distribution_test,
    first_divergence,
    lossless_summary,
)
from hbench.tasks.understanding.suite import UnderstandingConfig, UnderstandingSuite


def test_first_divergence():
    assert first_divergence([1, 2, 3], [1, 2, 3]) is None
    assert first_divergence([1, 2, 3], [1, 5, 3]) == 1
    assert first_divergence([1, 2], [1, 2, 3]) == 2


def test_compare_tokens_reports_context():
    c = compare_tokens(list(range(10)), [*range(7), 99, 8, 9])
    assert c["exact"] is False and c["first_divergence"] == 7
    assert c["reference_token"] == 7 and c["other_token"] == 99
    assert c["context_before"] == [2, 3, 4, 5, 6]
    assert c["reference_after"] == [7, 8, 9] and c["other_after"] == [99, 8, 9]


def test_summary_rate():
    pairs = [
        ("a", {"token_ids": [1, 2]}, {"token_ids": [1, 2]}),
        ("b", {"token_ids": [1, 2]}, {"token_ids": [1, 3]}),
    ]
    s = lossless_summary(pairs)
    assert s["exact_match_rate"] == 0.5 and s["first_divergences"][0]["sample"] == "b"


def test_distribution_test_separates_same_and_different():
    rng = np.random.default_rng(0)
    cats = [(1,), (2,), (3,)]
    draw = lambda p, n: [cats[i] for i in rng.choice(3, size=n, p=p)]  # noqa: E731
    same = distribution_test(draw([0.5, 0.3, 0.2], 400), draw([0.5, 0.3, 0.2], 400))
    diff = distribution_test(draw([0.5, 0.3, 0.2], 400), draw([0.2, 0.3, 0.5], 400))
    assert same["p_value"] > 0.01 and diff["p_value"] < 1e-6 and diff["dof"] == 2
    assert distribution_test([(1,)] * 5, [(1,)] * 5)["p_value"] == 1.0


def _record(sample, ids):
    return {"sample": sample, "error": None, "output": {"token_ids": ids, "text": ""}}


def test_suite_compare_pairs_by_sample_and_tests_repeats():
    suite = UnderstandingSuite(
        UnderstandingConfig(benchmark="shapes-caption", samples=2, repeats=2)
    )
    ref = [_record("00000/r00", [1, 2]), _record("00000/r01", [1, 2]), _record("00001/r00", [3])]
    oth = [
        _record("00001/r00", [4]),
        _record("00000/r01", [1, 2]),
        _record("00000/r00", [1, 2]),
        {"sample": "00001/r01", "error": {"message": "x"}},
    ]
    out = suite.compare(ref, oth)
    assert out["lossless"]["n"] == 3 and out["lossless"]["exact_match_rate"] == 2 / 3
    assert out["lossless"]["first_divergences"][0]["sample"] == "00001/r00"
    assert out["sampling"]["prompts"] == 2 and 0.0 <= out["sampling"]["p_value"] <= 1.0

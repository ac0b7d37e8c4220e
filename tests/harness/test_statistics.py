"""Known-answer tests of hbench.harness.statistics (reference values from scipy and papers)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats as sps

from hbench.harness import statistics as st


def test_doctests_pass() -> None:
    result = doctest.testmod(st)
    assert result.attempted >= 9 and result.failed == 0


# ---- paired bootstrap ---------------------------------------------------------------------


def test_paired_bootstrap_recovers_a_known_mean_difference() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(0.0, 1.0, 400)
    other = reference + 0.3 + rng.normal(0.0, 0.2, 400)  # true paired difference: 0.3
    r = st.paired_bootstrap(reference, other)
    assert r.mean_diff == pytest.approx(float(np.mean(other - reference)), abs=1e-12)
    assert r.ci_low < 0.3 < r.ci_high
    # Width close to the normal-theory interval 2 * 1.96 * sd / sqrt(n) of the differences.
    expected = 2 * 1.96 * np.std(other - reference, ddof=1) / np.sqrt(400)
    assert r.ci_high - r.ci_low == pytest.approx(expected, rel=0.1)
    assert (r.n, r.confidence, r.resamples) == (400, 0.95, 10_000)


def test_paired_bootstrap_sign_is_other_minus_reference() -> None:
    r = st.paired_bootstrap([1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0])
    assert r.mean_diff == -0.5 and r.ci_high <= 0.0


def test_paired_bootstrap_matches_scipy_percentile_bootstrap() -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 2, 120).astype(float)  # per-sample correctness, like GenEval
    b = np.where(rng.random(120) < 0.15, 1 - a, a)
    ours = st.paired_bootstrap(a, b, resamples=10_000, seed=0)
    ref = sps.bootstrap(
        (b - a,), np.mean, n_resamples=10_000, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    # Different RNG streams: endpoints agree up to Monte-Carlo error of the 2.5% quantiles.
    assert ours.ci_low == pytest.approx(ref.low, abs=0.012)
    assert ours.ci_high == pytest.approx(ref.high, abs=0.012)


def test_paired_bootstrap_interval_covers_true_difference_at_nominal_rate() -> None:
    rng = np.random.default_rng(3)
    trials, covered = 300, 0
    for i in range(trials):
        a = rng.exponential(1.0, 40)
        b = a + rng.normal(-0.1, 0.5, 40)  # true mean difference -0.1
        r = st.paired_bootstrap(a, b, resamples=1_000, seed=i)
        covered += r.ci_low <= -0.1 <= r.ci_high
    # Binomial(300, ~0.94): mean 282, sd ~4; the percentile bootstrap under-covers slightly at n=40.
    assert 0.88 <= covered / trials <= 0.99


def test_paired_bootstrap_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.random(50), rng.random(50)
    assert st.paired_bootstrap(a, b, seed=7) == st.paired_bootstrap(a, b, seed=7)
    assert st.paired_bootstrap(a, b, seed=7) != st.paired_bootstrap(a, b, seed=8)


def test_wider_confidence_gives_wider_interval() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.random(60), rng.random(60)
    narrow = st.paired_bootstrap(a, b, confidence=0.8)
    wide = st.paired_bootstrap(a, b, confidence=0.99)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


@pytest.mark.parametrize(
    ("reference", "other", "match"),
    [
        ([], [], "reference is empty"),
        ([1.0, 2.0], [1.0], "equal lengths"),
        ([1.0, float("nan")], [1.0, 2.0], "reference has 1 non-finite value"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "one-dimensional"),
    ],
)
def test_paired_bootstrap_rejects_bad_input(reference, other, match) -> None:
    with pytest.raises(ValueError, match=match):
        st.paired_bootstrap(reference, other)


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="confidence"):
        st.paired_bootstrap([1.0], [1.0], confidence=1.5)
    with pytest.raises(ValueError, match="resamples"):
        st.paired_bootstrap([1.0], [1.0], resamples=0)
    with pytest.raises(ValueError, match="statistic"):
        st.bootstrap_distribution(np.ones(3), statistic="mode")


def test_grouped_bootstrap_is_the_unweighted_mean_of_group_differences() -> None:
    # Two groups of unequal size: the macro mean weights each group equally.
    groups = ["a"] * 4 + ["b"] * 2
    reference = [1, 1, 1, 1, 0, 0]
    other = [1, 1, 1, 0, 1, 1]  # group a: -0.25, group b: +1.0 -> macro 0.375, micro 1/6
    r = st.paired_bootstrap(reference, other, groups=groups)
    assert r.mean_diff == pytest.approx(0.375)
    assert st.paired_bootstrap(reference, other).mean_diff == pytest.approx(1 / 6)
    # Group b is constant within the group: only group a's resampling moves the statistic.
    assert r.ci_low >= (-1.0 + 1.0) / 2 and r.ci_high <= (0.0 + 1.0) / 2


def test_grouped_bootstrap_checks_group_labels() -> None:
    with pytest.raises(ValueError, match="groups"):
        st.paired_bootstrap([1.0, 2.0], [1.0, 2.0], groups=["a"])


# ---- speedup ------------------------------------------------------------------------------


def test_speedup_is_median_of_paired_ratios_with_known_answer() -> None:
    rng = np.random.default_rng(6)
    other = rng.uniform(0.01, 0.02, 201)
    noise = np.exp(rng.normal(0.0, 0.05, 201))  # multiplicative noise with median 1
    reference = other * 16.0 * noise
    s = st.speedup(reference, other)
    assert s.median == pytest.approx(float(np.median(reference / other)))
    assert s.ci_low < 16.0 < s.ci_high
    assert s.ci_high - s.ci_low < 0.5


def test_speedup_pairs_samples_rather_than_dividing_medians() -> None:
    # Sample times vary 100x; the per-sample ratio is exactly 3 everywhere.
    other = np.array([0.01, 0.1, 1.0, 0.05])
    s = st.speedup(3 * other, other)
    assert (s.median, s.ci_low, s.ci_high) == pytest.approx((3.0, 3.0, 3.0))


def test_speedup_rejects_non_positive_times() -> None:
    with pytest.raises(ValueError, match=r"other_seconds must be > 0, got 0.0 at index 1"):
        st.speedup([1.0, 1.0], [1.0, 0.0])


# ---- Wilson and rates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", method 3.
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_table(successes, n, low, high) -> None:
    w = st.wilson(successes, n)
    assert (round(w.low, 4), round(w.high, 4)) == (low, high)
    assert w.estimate == successes / n


@pytest.mark.parametrize(
    ("k", "n", "conf"), [(0, 5, 0.95), (5, 5, 0.9), (37, 50, 0.99), (3, 1000, 0.95)]
)
def test_wilson_matches_scipy(k, n, conf) -> None:
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=conf, method="wilson")
    w = st.wilson(k, n, conf)
    assert (w.low, w.high) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes"):
        st.wilson(6, 5)
    with pytest.raises(ValueError, match="n must be"):
        st.wilson(0, 0)


def test_rate_and_exact_match_rate() -> None:
    assert st.rate([1, 0, 1, 1]).estimate == 0.75
    with pytest.raises(ValueError, match="0/1"):
        st.rate([0.5, 1.0])
    em = st.exact_match_rate([[1, 2, 3], [4, 5]], [[1, 2, 3], [4, 6]])
    assert em.estimate == 0.5 and em.n == 2
    assert st.exact_match_rate(["x"] * 30, ["x"] * 30).low == pytest.approx(0.8865, abs=1e-4)
    with pytest.raises(ValueError, match="equal lengths"):
        st.exact_match_rate([1], [1, 2])


def test_mean_interval_brackets_the_mean() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(5.0, 1.0, 300)
    m = st.mean_interval(x)
    se = np.std(x, ddof=1) / np.sqrt(x.size)  # normal theory: mean +- 1.96 se
    assert m.estimate == pytest.approx(x.mean())
    assert (m.low, m.high) == pytest.approx(
        (x.mean() - 1.96 * se, x.mean() + 1.96 * se), abs=0.2 * se
    )


# ---- percentiles and non-inferiority ------------------------------------------------------


def test_percentiles_match_numpy() -> None:
    rng = np.random.default_rng(8)
    x = rng.lognormal(0.0, 1.0, 1000)
    s = st.percentiles(x)
    p10, p50, p90, p99 = np.percentile(x, [10, 50, 90, 99])
    assert (s.median, s.p10, s.p90, s.p99) == pytest.approx((p50, p10, p90, p99))
    assert (s.mean, s.min, s.max, s.n) == pytest.approx((x.mean(), x.min(), x.max(), 1000))
    assert s.std == pytest.approx(np.std(x, ddof=1))
    one = st.percentiles([2.5])
    assert (one.median, one.p99, one.std) == (2.5, 2.5, 0.0)


def test_non_inferiority_boundaries() -> None:
    d = st.PairedDiff(
        mean_diff=0.0, ci_low=-0.01, ci_high=0.01, n=10, confidence=0.95, resamples=10
    )
    assert st.non_inferior(d, 0.02)
    assert not st.non_inferior(d, 0.01)  # a lower bound *at* -margin is not above it
    assert not st.non_inferior(d, 0.0)
    with pytest.raises(ValueError, match="margin"):
        st.non_inferior(d, -0.1)


def test_non_inferiority_verdict_on_simulated_data() -> None:
    rng = np.random.default_rng(9)
    base = rng.integers(0, 2, 500).astype(float)
    same = np.where(rng.random(500) < 0.05, 1 - base, base)  # symmetric flips: no true loss
    worse = np.where((base == 1) & (rng.random(500) < 0.3), 0.0, base)  # ~15 points worse
    assert st.non_inferior(st.paired_bootstrap(base, same), margin=0.05)
    assert not st.non_inferior(st.paired_bootstrap(base, worse), margin=0.05)

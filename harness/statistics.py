"""Pure statistics for paired comparisons: arrays in, frozen dataclasses out.

Conventions used everywhere in hbench:

* A paired difference is ``other - reference`` per sample (``other`` is usually the
  accelerated variant), so a negative ``mean_diff`` means the other variant scored lower.
* A speedup is the per-sample ratio ``reference_seconds / other_seconds``; its point
  estimate is the median of those paired ratios (DESIGN.md, "Speedup").
* Bootstrap intervals are percentile intervals over ``resamples`` resamples of the sample
  *indices* (pairs stay together), drawn with ``numpy.random.default_rng(seed)``. The
  defaults are ``resamples=10_000`` and ``seed=0``, so the same data always give the same
  interval. With 10,000 resamples the Monte-Carlo error of a 2.5% quantile is about
  0.16 percentage points of coverage, well below the sampling error of any suite we run.
* Binomial rates (accuracies, exact-match rates) use the Wilson score interval.

Every function validates its input (non-empty, finite, equal lengths) and raises
``ValueError`` naming the argument otherwise. This module imports numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95
_CHUNK_CELLS = 4_000_000  # resample-matrix cells per chunk: bounds memory at ~32 MB


@dataclass(frozen=True)
class PairedDiff:
    """Mean of ``other - reference`` over paired samples, with a bootstrap interval."""

    mean_diff: float
    ci_low: float
    ci_high: float
    n: int
    confidence: float
    resamples: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``metrics`` entries of scores.json comparisons)."""
        return asdict(self)


@dataclass(frozen=True)
class Speedup:
    """Median of paired ratios ``reference / other`` with a bootstrap interval."""

    median: float
    ci_low: float
    ci_high: float
    n: int
    confidence: float
    resamples: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``speedup`` entry of scores.json comparisons)."""
        return asdict(self)


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval (Wilson or bootstrap)."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class Summary:
    """Distribution summary of one per-sample quantity (e.g. seconds per sample)."""

    median: float
    p10: float
    p90: float
    p99: float
    mean: float
    std: float
    min: float
    max: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


# ---- validation ---------------------------------------------------------------------------


def _as_array(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one sample")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(
            f"{name} has {bad.size} non-finite value(s), first at index {int(bad[0])} "
            f"({arr[bad[0]]}); drop errored samples before calling"
        )
    return arr


def _check_pair(
    reference: Sequence[float] | np.ndarray, other: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    ref = _as_array(reference, "reference")
    oth = _as_array(other, "other")
    if ref.shape != oth.shape:
        raise ValueError(
            f"paired samples need equal lengths: reference has {ref.size}, other has {oth.size}"
        )
    return ref, oth


def _check_settings(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if int(resamples) != resamples or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples}")


# ---- bootstrap core -----------------------------------------------------------------------


def bootstrap_distribution(
    values: np.ndarray,
    statistic: str = "mean",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> np.ndarray:
    """The bootstrap distribution of ``statistic`` ("mean" or "median") of ``values``.

    Resamples indices with replacement, ``resamples`` times, in memory-bounded chunks.
    The result depends only on (values, statistic, resamples, seed).

    Args:
        values: One-dimensional finite array.
        statistic: ``"mean"`` or ``"median"``.
        resamples: Number of bootstrap resamples.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        Array of shape ``(resamples,)``.

    Examples:
        >>> d = bootstrap_distribution(np.array([1.0, 1.0, 1.0]), resamples=5)
        >>> d.tolist()
        [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    reducers = {"mean": np.mean, "median": np.median}
    if statistic not in reducers:
        raise ValueError(f"statistic must be one of {sorted(reducers)}, got {statistic!r}")
    arr = _as_array(values, "values")
    _check_settings(DEFAULT_CONFIDENCE, resamples)
    rng = np.random.default_rng(seed)
    n = arr.size
    out = np.empty(int(resamples), dtype=np.float64)
    chunk = max(1, _CHUNK_CELLS // n)
    for start in range(0, int(resamples), chunk):
        stop = min(int(resamples), start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = reducers[statistic](arr[idx], axis=1)
    return out


def _percentile_interval(dist: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(dist, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


# ---- public statistics --------------------------------------------------------------------


def paired_bootstrap(
    reference: Sequence[float] | np.ndarray,
    other: Sequence[float] | np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    groups: Sequence[Any] | None = None,
) -> PairedDiff:
    """Mean paired difference ``other - reference`` with a percentile bootstrap interval.

    Samples are paired by position: ``reference[i]`` and ``other[i]`` must come from
    the same prompt / seed / image. With ``groups`` (one label per sample), the statistic
    is the unweighted mean over groups of each group's mean difference (a macro average,
    like GenEval's overall over its six tags or GEdit's over task types), and the
    bootstrap resamples within each group so group sizes stay fixed (stratified).

    Args:
        reference: Per-sample metric of the reference (baseline) variant.
        other: Per-sample metric of the compared (accelerated) variant, same order.
        confidence: Two-sided confidence level of the interval.
        resamples: Bootstrap resamples (default 10,000).
        seed: Seed of the resampling RNG (default 0).
        groups: Optional per-sample group labels for a macro-averaged difference.

    Returns:
        PairedDiff with the observed mean difference and its interval.

    Raises:
        ValueError: Empty, non-finite or unequal-length inputs, or bad settings.

    Examples:
        >>> r = paired_bootstrap([1.0, 2.0, 3.0, 4.0], [1.5, 2.5, 3.5, 4.5])
        >>> (r.mean_diff, r.ci_low, r.ci_high, r.n)
        (0.5, 0.5, 0.5, 4)
    """
    ref, oth = _check_pair(reference, other)
    _check_settings(confidence, resamples)
    diffs = oth - ref
    if groups is None:
        observed = float(diffs.mean())
        dist = bootstrap_distribution(diffs, "mean", resamples, seed)
    else:
        observed, dist = _grouped_mean_distribution(diffs, groups, resamples, seed)
    low, high = _percentile_interval(dist, confidence)
    return PairedDiff(observed, low, high, int(diffs.size), confidence, int(resamples))


def _grouped_mean_distribution(
    values: np.ndarray, groups: Sequence[Any], resamples: int, seed: int
) -> tuple[float, np.ndarray]:
    """Observed macro mean and its stratified bootstrap distribution."""
    labels = list(groups)
    if len(labels) != values.size:
        raise ValueError(f"groups has {len(labels)} labels for {values.size} samples")
    members: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(str(label), []).append(i)
    rng = np.random.default_rng(seed)
    total = np.zeros(int(resamples), dtype=np.float64)
    observed = 0.0
    for label in sorted(members):  # sorted: the draw order, hence the result, is stable
        part = values[members[label]]
        observed += float(part.mean())
        total += bootstrap_distribution(part, "mean", resamples, int(rng.integers(2**32)))
    return observed / len(members), total / len(members)


def speedup(
    reference_seconds: Sequence[float] | np.ndarray,
    other_seconds: Sequence[float] | np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Speedup:
    """Median of paired ratios ``reference / other`` with a percentile bootstrap interval.

    Args:
        reference_seconds: Per-sample time of the reference variant (all > 0).
        other_seconds: Per-sample time of the other variant for the same samples (all > 0).
        confidence: Two-sided confidence level.
        resamples: Bootstrap resamples (default 10,000).
        seed: Seed of the resampling RNG (default 0).

    Returns:
        Speedup; ``median > 1`` means ``other`` is faster.

    Raises:
        ValueError: Non-positive times, empty or unequal-length inputs, bad settings.

    Examples:
        >>> s = speedup([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
        >>> (s.median, s.ci_low, s.ci_high, s.n)
        (2.0, 2.0, 2.0, 3)
    """
    ref, oth = _check_pair(reference_seconds, other_seconds)
    _check_settings(confidence, resamples)
    for name, arr in (("reference_seconds", ref), ("other_seconds", oth)):
        if np.any(arr <= 0):
            bad = int(np.flatnonzero(arr <= 0)[0])
            raise ValueError(f"{name} must be > 0, got {arr[bad]} at index {bad}")
    ratios = ref / oth
    dist = bootstrap_distribution(ratios, "median", resamples, seed)
    low, high = _percentile_interval(dist, confidence)
    return Speedup(
        float(np.median(ratios)), low, high, int(ratios.size), confidence, int(resamples)
    )


def mean_interval(
    values: Sequence[float] | np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Mean of one variant's per-sample metric with a percentile bootstrap interval.

    Examples:
        >>> mean_interval([3.0, 3.0]).to_dict()["estimate"]
        3.0
    """
    arr = _as_array(values, "values")
    _check_settings(confidence, resamples)
    low, high = _percentile_interval(
        bootstrap_distribution(arr, "mean", resamples, seed), confidence
    )
    return Interval(float(arr.mean()), low, high, int(arr.size), confidence)


def wilson(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson score interval for a binomial proportion (no continuity correction).

    Args:
        successes: Number of successes, ``0 <= successes <= n``.
        n: Number of trials, ``n >= 1``.
        confidence: Two-sided confidence level.

    Returns:
        Interval with ``estimate = successes / n``.

    Examples:
        >>> w = wilson(81, 263)   # Newcombe (1998), example (a): 0.2553 to 0.3662
        >>> round(w.low, 4), round(w.high, 4)
        (0.2553, 0.3662)
        >>> wilson(0, 20).low
        0.0
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    if int(successes) != successes or not 0 <= successes <= n:
        raise ValueError(f"successes must be an integer in [0, n={n}], got {successes}")
    _check_settings(confidence, 1)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    # Clamp rounding at the ends: the exact interval for 0 successes starts at 0.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, int(n), confidence)


def rate(outcomes: Sequence[bool] | np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Rate of true outcomes (accuracy, exact-match rate) with a Wilson interval.

    Args:
        outcomes: Per-sample booleans or 0/1 values.
        confidence: Two-sided confidence level.

    Examples:
        >>> r = rate([True, True, False, True])
        >>> r.estimate, r.n
        (0.75, 4)
    """
    arr = _as_array(outcomes, "outcomes")
    if not np.all((arr == 0.0) | (arr == 1.0)):
        bad = int(np.flatnonzero((arr != 0.0) & (arr != 1.0))[0])
        raise ValueError(f"outcomes must be 0/1 or booleans, got {arr[bad]} at index {bad}")
    return wilson(int(arr.sum()), int(arr.size), confidence)


def exact_match_rate(
    reference: Sequence[Any], other: Sequence[Any], confidence: float = DEFAULT_CONFIDENCE
) -> Interval:
    """Share of samples where ``other[i] == reference[i]`` (e.g. token id lists), Wilson CI.

    Examples:
        >>> exact_match_rate([[1, 2], [3]], [[1, 2], [3]]).estimate
        1.0
        >>> exact_match_rate(["a", "b"], ["a", "c"]).estimate
        0.5
    """
    if len(reference) != len(other):
        raise ValueError(
            f"paired outputs need equal lengths: reference has {len(reference)}, "
            f"other has {len(other)}"
        )
    return rate([a == b for a, b in zip(reference, other, strict=True)], confidence)


def percentiles(values: Sequence[float] | np.ndarray) -> Summary:
    """Median, p10, p90, p99, mean, std, min, max of per-sample values.

    Percentiles use numpy's default linear interpolation between order statistics.

    Examples:
        >>> s = percentiles(range(1, 102))
        >>> s.median, s.p10, s.p90, s.p99, s.n
        (51.0, 11.0, 91.0, 100.0, 101)
    """
    arr = _as_array(values, "values")
    p10, p50, p90, p99 = np.percentile(arr, [10, 50, 90, 99])
    return Summary(
        median=float(p50),
        p10=float(p10),
        p90=float(p90),
        p99=float(p99),
        mean=float(arr.mean()),
        std=float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        min=float(arr.min()),
        max=float(arr.max()),
        n=int(arr.size),
    )


def non_inferior(diff: PairedDiff, margin: float) -> bool:
    """Paired non-inferiority: the interval's lower bound lies above ``-margin``.

    DESIGN.md, "Lossless, images": ``other`` is non-inferior to ``reference`` when the
    lower confidence bound of ``mean(other - reference)`` is strictly above ``-margin``.

    Args:
        diff: Result of :func:`paired_bootstrap` (higher metric = better).
        margin: Tolerated loss, ``>= 0``.

    Examples:
        >>> d = PairedDiff(-0.005, -0.02, 0.01, 100, 0.95, 10000)
        >>> non_inferior(d, 0.03), non_inferior(d, 0.01)
        (True, False)
    """
    if not math.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a finite number >= 0, got {margin}")
    return diff.ci_low > -margin

"""Numbers a report shows, taken from scores.json when it has them, else from the records.

Every value carries where it came from (``"scores.json"`` or ``"records"``), so a report can
say so. Statistics computed here use :mod:`hbench.harness.statistics` (the same functions and
defaults as the runner's scoring: paired bootstrap with 10,000 resamples, seed 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbench.harness import statistics as st

from .run import Run

# How each suite groups its samples (GenEval tags, GEdit task types) and which per-sample
# metric is its headline when scores.json does not say. Overall = unweighted mean of the
# group means (the official GenEval and GEdit rules).
GROUP_FIELD: dict[str, str] = {"geneval": "tag", "gedit": "task_type", "latency": "workload"}
DEFAULT_PRIMARY: dict[str, str] = {"geneval": "correct", "gedit": "O"}
# Per-sample metrics that are timings, not quality: speedups report them, scores do not.
TIME_METRICS = frozenset({"seconds", "model_seconds", "overhead_seconds"})


@dataclass(frozen=True)
class Estimate:
    """A value with an optional interval and the source it came from."""

    value: float
    low: float | None = None
    high: float | None = None
    n: int | None = None
    source: str = "records"


@dataclass(frozen=True)
class VariantView:
    """One (suite, variant) of a run as the summary table shows it."""

    suite: str
    variant: str
    n: int
    errors: int
    score_name: str | None
    score: Estimate | None
    seconds_median: float | None
    nfe_mean: float | None
    merged_calls_mean: float | None
    overhead_share: float | None
    peak_memory_bytes: int | None


def _num(value: Any) -> float | None:
    """``value`` as a finite float, else None (bools and strings are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _metric(record: dict[str, Any], name: str) -> float | None:
    return _num((record.get("metrics") or {}).get(name))


def _profile(record: dict[str, Any], name: str) -> float | None:
    return _num((record.get("profile") or {}).get(name))


def suite_block(run: Run, suite: str) -> dict[str, Any]:
    """scores.json's block for ``suite`` (empty when absent)."""
    block = run.suite_scores().get(suite)
    return block if isinstance(block, dict) else {}


def primary_metric(run: Run, suite: str) -> str | None:
    """The suite's headline quality metric: scores.json's, else the suite default; None for
    suites whose primary metric is a timing (the latency suite)."""
    name = suite_block(run, suite).get("primary_metric")
    name = name if isinstance(name, str) else DEFAULT_PRIMARY.get(suite)
    return None if name in TIME_METRICS else name


def group_of(record: dict[str, Any], suite: str) -> str:
    """The record's group (GenEval tag, GEdit task type, latency workload), read from
    ``details`` or ``output``; GEdit groups carry their language when it is not English."""
    field = GROUP_FIELD.get(suite)
    if field is None:
        return "all"
    details, output = record.get("details") or {}, record.get("output") or {}
    group = str(details.get(field, output.get(field, "all")))
    language = output.get("language", details.get("language"))
    if isinstance(language, str) and language not in ("", "en"):
        group = f"{group} [{language}]"
    return group


def group_means(run: Run, suite: str, variant: str, metric: str) -> dict[str, tuple[float, int]]:
    """Mean and count of ``metric`` per group (tag / task type), from the records."""
    groups: dict[str, list[float]] = {}
    for r in run.ok_records(suite, variant):
        value = _metric(r, metric)
        if value is not None:
            groups.setdefault(group_of(r, suite), []).append(value)
    return {k: (float(np.mean(v)), len(v)) for k, v in sorted(groups.items())}


def headline_score(run: Run, suite: str, variant: str) -> tuple[str | None, Estimate | None]:
    """The suite's headline score of a variant: scores.json's ``overall`` / primary metric,
    else the unweighted mean over groups of the primary metric computed from the records."""
    primary = primary_metric(run, suite)
    entry = ((suite_block(run, suite).get("variants") or {}).get(variant)) or {}
    scores = entry.get("scores") or {}
    if primary is None:
        return None, None
    for name in ("overall", primary):
        if _num(scores.get(name)) is not None:
            return name, Estimate(float(scores[name]), source="scores.json")
    means = group_means(run, suite, variant, primary)
    if not means:
        return primary, None
    value = float(np.mean([m for m, _ in means.values()]))
    n = sum(c for _, c in means.values())
    name = "overall" if suite in GROUP_FIELD and len(means) > 1 else primary
    return name, Estimate(value, n=n, source="records")


def variant_view(run: Run, suite: str, variant: str) -> VariantView:
    """Counts, headline score and profile summary of one (suite, variant)."""
    entry = ((suite_block(run, suite).get("variants") or {}).get(variant)) or {}
    records = run.ok_records(suite, variant)
    errors = run.error_count(suite, variant)
    prof = entry.get("profile") or {}
    seconds = [s for s in (_profile(r, "seconds") for r in records) if s is not None]
    nfe = [s for s in (_profile(r, "nfe") for r in records) if s is not None]
    calls = [s for s in (_profile(r, "merged_calls") for r in records) if s is not None]
    overhead = [s for s in (_profile(r, "overhead_seconds") for r in records) if s is not None]
    memory = [s for s in (_profile(r, "peak_memory_bytes") for r in records) if s is not None]

    def pick(key: str, fallback: float | None) -> float | None:
        value = _num(prof.get(key))
        return value if value is not None else fallback

    share = (sum(overhead) / sum(seconds)) if seconds and overhead and sum(seconds) > 0 else None
    name, score = headline_score(run, suite, variant)
    peak = pick("peak_memory_bytes", max(memory) if memory else None)
    return VariantView(
        suite=suite,
        variant=variant,
        n=int(entry.get("n", len(records) + errors)),
        errors=int(entry.get("errors", errors)),
        score_name=name,
        score=score,
        seconds_median=pick("seconds_median", float(np.median(seconds)) if seconds else None),
        nfe_mean=pick("nfe_mean", float(np.mean(nfe)) if nfe else None),
        merged_calls_mean=pick("merged_calls_mean", float(np.mean(calls)) if calls else None),
        overhead_share=pick("overhead_share", share),
        peak_memory_bytes=int(peak) if peak is not None else None,
    )


# ---- paired comparisons ---------------------------------------------------------------------


def pairs(
    run: Run, suite: str, variant: str, reference: str | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(reference record, variant record) matched by (sample, seed), errors excluded."""
    ref = reference or run.reference
    left = {(r["sample"], r.get("seed")): r for r in run.ok_records(suite, ref)}
    right = {(r["sample"], r.get("seed")): r for r in run.ok_records(suite, variant)}
    return [(left[k], right[k]) for k in sorted(set(left) & set(right), key=str)]


def comparison_block(run: Run, suite: str, variant: str) -> dict[str, Any]:
    """scores.json's comparison of ``variant`` against the reference (empty when absent)."""
    block = (suite_block(run, suite).get("comparisons") or {}).get(variant)
    return block if isinstance(block, dict) else {}


def _from_block(entry: Any, key: str, source: str = "scores.json") -> Estimate | None:
    if not isinstance(entry, dict) or _num(entry.get(key)) is None:
        return None
    n = entry.get("n")
    return Estimate(
        float(entry[key]),
        _num(entry.get("ci_low")),
        _num(entry.get("ci_high")),
        int(n) if isinstance(n, int) else None,
        source,
    )


def speedup(run: Run, suite: str, variant: str, group: str | None = None) -> Estimate | None:
    """Median paired speedup (reference seconds / variant seconds) with its interval.

    With ``group`` (a latency workload) only that group's pairs count; scores.json's
    per-workload block (``comparisons.<variant>.workloads.<group>.speedup``) is preferred.
    """
    block = comparison_block(run, suite, variant)
    if group is not None:
        block = ((block.get("workloads") or {}).get(group)) or {}
    found = _from_block(block.get("speedup"), "median")
    if found is not None:
        return found
    secs = [
        (_profile(a, "seconds"), _profile(b, "seconds"))
        for a, b in pairs(run, suite, variant)
        if group is None or group_of(b, suite) == group
    ]
    secs = [(a, b) for a, b in secs if a and b and a > 0 and b > 0]
    if not secs:
        return None
    s = st.speedup([a for a, _ in secs], [b for _, b in secs])
    return Estimate(s.median, s.ci_low, s.ci_high, s.n)


def speedup_groups(run: Run, suite: str) -> list[str | None]:
    """Groups a speedup is reported for: each latency workload separately (their times are
    not comparable), else the whole suite (``None``)."""
    if suite != "latency":
        return [None]
    return sorted({group_of(r, suite) for r in run.records if r["suite"] == suite}) or [None]


def metric_diff(
    run: Run, suite: str, variant: str, metric: str, group: str | None = None
) -> Estimate | None:
    """Mean paired difference (variant - reference) of ``metric``, optionally in one group.

    The whole-suite difference comes from scores.json when present; per-group differences
    are computed from the records with a paired bootstrap.
    """
    if group is None:
        entry = (comparison_block(run, suite, variant).get("metrics") or {}).get(metric)
        found = _from_block(entry, "mean_diff")
        if found is not None:
            return found
    a, b = [], []
    for ref, oth in pairs(run, suite, variant):
        if group is not None and group_of(oth, suite) != group:
            continue
        x, y = _metric(ref, metric), _metric(oth, metric)
        if x is not None and y is not None:
            a.append(x)
            b.append(y)
    if not a:
        return None
    d = st.paired_bootstrap(a, b)
    return Estimate(d.mean_diff, d.ci_low, d.ci_high, d.n)


def accelerated_variants(run: Run, suite: str) -> list[str]:
    """The run's variants of ``suite`` other than the reference."""
    return [v for v in run.variants(suite) if v != run.reference]

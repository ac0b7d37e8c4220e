"""Numbers a report shows: comparisons are the engine's entries in scores.json, never recomputed.

Every comparison (speedup, Δ metric, exact match, tau, cost ratios) is read from
``scores.json`` (written once at scoring by :mod:`hbench.harness.comparisons`, with its
method), so the report, the Markdown / LaTeX tables, the terminal summary and ``hbench gate``
print the same figure. Per-variant descriptive values (group means, headline scores) come
from scores.json when present, else from the records. What a suite groups by and which metric
is its headline are the suite's declarations in scores.json, never its configured name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbench.harness import comparisons as cmp

from .run import Run


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


def meta(run: Run, suite: str) -> cmp.SuiteMeta:
    """What the suite declared in scores.json (nothing declared: no grouping, no headline)."""
    return cmp.SuiteMeta.from_dict(suite_block(run, suite).get("declared"))


def primary_metric(run: Run, suite: str) -> str | None:
    """The suite's declared headline quality metric; None for timing suites (latency)."""
    return meta(run, suite).primary_metric


def group_of(record: dict[str, Any], suite: str, run: Run | None = None) -> str:
    """The record's group under its suite's declared group field (GenEval tag, GEdit task
    type, latency workload); "all" when the suite declares none."""
    field = meta(run, suite).group_field if run is not None else None
    return cmp.group_label(record, field) or "all"


def group_means(run: Run, suite: str, variant: str, metric: str) -> dict[str, tuple[float, int]]:
    """Mean and count of ``metric`` per group (tag / task type), from the records."""
    groups: dict[str, list[float]] = {}
    for r in run.ok_records(suite, variant):
        value = _metric(r, metric)
        if value is not None:
            groups.setdefault(group_of(r, suite, run), []).append(value)
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
    name = "overall" if meta(run, suite).group_field and len(means) > 1 else primary
    return name, Estimate(value, n=n, source="records")


def variant_view(run: Run, suite: str, variant: str, group: str | None = None) -> VariantView:
    """Counts, headline score and profile summary of one (suite, variant); with ``group``
    (a workload of a workload-grouped suite) that workload's records and profile only."""
    entry = ((suite_block(run, suite).get("variants") or {}).get(variant)) or {}
    records = run.ok_records(suite, variant)
    errors = run.error_count(suite, variant)
    prof = entry.get("profile") or {}
    if group is not None:
        records = [r for r in records if group_of(r, suite, run) == group]
        prof = (entry.get("profile_by_group") or {}).get(group) or {}
        entry = {"n": len(records), "errors": 0}
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


# ---- paired comparisons: the engine's entries ------------------------------------------------


def pairs(
    run: Run, suite: str, variant: str, reference: str | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(reference record, variant record) matched by (sample, seed), errors excluded."""
    ref, oth = cmp.paired(
        run.ok_records(suite, reference or run.reference), run.ok_records(suite, variant)
    )
    return list(zip(ref, oth, strict=True))


def comparison_block(run: Run, suite: str, variant: str) -> dict[str, Any]:
    """scores.json's comparison of ``variant`` against the reference (empty when absent)."""
    block = (suite_block(run, suite).get("comparisons") or {}).get(variant)
    return block if isinstance(block, dict) else {}


def entry(
    run: Run, suite: str, variant: str, quantity: str, metric: str | None, scope: str
) -> dict[str, Any] | None:
    """The comparison engine's entry (see :mod:`hbench.harness.comparisons`), or None."""
    entries = comparison_block(run, suite, variant).get("estimates") or []
    return cmp.find(entries, quantity, metric, scope)


def estimate(
    run: Run, suite: str, variant: str, quantity: str, metric: str | None, scope: str
) -> Estimate | None:
    """An entry as an :class:`Estimate` (value, interval, n), or None."""
    found = entry(run, suite, variant, quantity, metric, scope)
    if found is None:
        return None
    return Estimate(found["estimate"], found["ci_low"], found["ci_high"], found["n"], "scores.json")


def scope_of(run: Run, suite: str, group: str | None) -> str:
    """The entry scope of a group (``<field>=<group>``), or ``all``."""
    field = meta(run, suite).group_field
    return f"{field}={group}" if group is not None and field else "all"


def speedup(run: Run, suite: str, variant: str, group: str | None = None) -> Estimate | None:
    """Median paired speedup (reference seconds / variant seconds) with its interval; per
    workload for workload-grouped suites (pass ``group``)."""
    return estimate(run, suite, variant, "speedup", None, scope_of(run, suite, group))


def speedup_groups(run: Run, suite: str) -> list[str | None]:
    """Groups a speedup is reported for: each workload of a workload-grouped suite separately
    (their times are not comparable), else the whole suite (``None``)."""
    m = meta(run, suite)
    if m.group_kind != cmp.WORKLOAD or not m.group_field:
        return [None]
    found = {group_of(r, suite, run) for r in run.records if r["suite"] == suite}
    return sorted(found) or [None]


def metric_diff(
    run: Run, suite: str, variant: str, metric: str, group: str | None = None,
    pooled: bool = False,
) -> Estimate | None:  # fmt: skip
    """Mean paired difference (variant - reference) of ``metric``: in one group, else the
    suite's headline (``overall``: unweighted mean over groups, stratified bootstrap, when
    the suite groups its samples), else / with ``pooled`` the mean over all pairs."""
    if group is not None:
        return estimate(run, suite, variant, "diff", metric, scope_of(run, suite, group))
    if not pooled:
        found = estimate(run, suite, variant, "diff", metric, "overall")
        if found is not None:
            return found
    return estimate(run, suite, variant, "diff", metric, "all")


def compared_variants(run: Run, suite: str) -> list[str]:
    """Variants of ``suite`` other than the reference (candidates and bounds: quality rows)."""
    return [v for v in run.variants(suite) if v != run.reference]


def accelerated_variants(run: Run, suite: str) -> list[str]:
    """The candidates of ``suite``: speedup, divergence and cost rows are theirs only (an
    oracle / bound gets quality rows only)."""
    return [v for v in compared_variants(run, suite) if run.role(v) == cmp.CANDIDATE]

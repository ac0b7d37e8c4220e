"""scores.json from the run store alone: per-variant summaries and paired comparisons.

For every suite: ``Suite.summarize`` per variant plus a profile summary, then for every
non-reference variant a paired comparison against the reference: the mean difference of
every per-sample metric with a bootstrap interval, the paired speedup (median of
reference/other seconds), and ``Suite.compare``'s suite-specific block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import statistics as st
from .metric_values import (
    comparison_metric_block,
    merge_metric_values,
    pass_summary,
    read_metrics_pass,
    variant_metric_block,
)
from .store import RunStore, read_records
from .suite import Suite


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))
    )


def _finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and np.isfinite(v)]


def profile_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency, NFE, overhead and memory summary of one variant's records."""
    prof = [r["profile"] for r in records if r.get("profile")]
    if not prof:
        return {}
    seconds = _finite([p.get("seconds") for p in prof])
    out: dict[str, Any] = {}
    if seconds:
        s = st.percentiles(seconds)
        out.update(
            seconds_median=s.median,
            seconds_p10=s.p10,
            seconds_p90=s.p90,
            seconds_p99=s.p99,
            seconds_mean=s.mean,
        )
        total = sum(seconds)
        overhead = sum(_finite([p.get("overhead_seconds", 0.0) for p in prof]))
        out["overhead_share"] = overhead / total if total > 0 else 0.0
    nfe = _finite([p.get("nfe") for p in prof])
    if nfe:
        out["nfe_mean"] = float(np.mean(nfe))
        out["merged_calls_mean"] = float(np.mean(_finite([p.get("merged_calls") for p in prof])))
    mem = _finite([p.get("peak_memory_bytes", 0) for p in prof])
    out["peak_memory_bytes"] = int(max(mem)) if mem else 0
    stages: dict[str, list[float]] = {}
    for p in prof:
        for k, v in (p.get("stages") or {}).items():
            if _is_number(v):  # a NaN stat is stored as null (listed in the record's non_finite)
                stages.setdefault(k, []).append(float(v))
    if stages:
        out["stages_mean"] = {k: float(np.mean(v)) for k, v in sorted(stages.items())}
    return out


def paired(reference: list[dict[str, Any]], other: list[dict[str, Any]]) -> tuple[list, list]:
    """Records of two variants matched by (sample, seed), errors excluded, in sample order."""
    ref = {(r["sample"], r["seed"]): r for r in reference if not r.get("error")}
    oth = {(r["sample"], r["seed"]): r for r in other if not r.get("error")}
    keys = sorted(set(ref) & set(oth))
    return [ref[k] for k in keys], [oth[k] for k in keys]


def compare_variants(
    reference: list[dict[str, Any]], other: list[dict[str, Any]]
) -> dict[str, Any]:
    """Generic paired deltas of every shared metric and the paired speedup."""
    ref, oth = paired(reference, other)
    out: dict[str, Any] = {"n_pairs": len(ref), "metrics": {}}
    if not ref:
        return out
    # Per metric, only the pairs where both sides have a finite value (a failed judge
    # leaves a sample without SC/PQ/O; it must not drop the metric for every sample).
    names = sorted({m for r in ref + oth for m in r.get("metrics", {})})
    for name in names:
        pairs = [
            (r["metrics"].get(name), o["metrics"].get(name)) for r, o in zip(ref, oth, strict=True)
        ]
        pairs = [(a, b) for a, b in pairs if _is_number(a) and _is_number(b)]
        if pairs:
            out["metrics"][name] = st.paired_bootstrap(
                [a for a, _ in pairs], [b for _, b in pairs]
            ).to_dict()
    secs = [
        (r["profile"].get("seconds"), o["profile"].get("seconds"))
        for r, o in zip(ref, oth, strict=True)
    ]
    secs = [(a, b) for a, b in secs if a and b and a > 0 and b > 0]
    if secs:
        out["speedup"] = st.speedup([a for a, _ in secs], [b for _, b in secs]).to_dict()
    return out


def score_run(
    run_dir: str | Path, suites: dict[str, Suite], config: Any, store: RunStore | None = None
) -> dict[str, Any]:
    """Scores of a run, computed from its records (with ``store``, suites also export files).

    Values of the image-metrics post-pass (``metrics.jsonl``, ``metrics_pass.json``) are
    merged in: per-sample values join the records' metrics (so they get paired deltas),
    set metrics (FID, KID) join the variant and comparison blocks.
    """
    records = merge_metric_values(read_records(Path(run_dir)), run_dir)
    metrics_info = read_metrics_pass(run_dir)
    reference = config.system.reference
    out: dict[str, Any] = {"reference": reference, "suites": {}}
    for spec in config.suites:
        suite = suites[spec.name]
        mine = [r for r in records if r["suite"] == spec.name]
        by_variant = {
            v: sorted(
                (r for r in mine if r["variant"] == v), key=lambda r: (r["sample"], r["seed"])
            )
            for v in spec.variants
        }
        block: dict[str, Any] = {
            "primary_metric": suite.primary_metric,
            "variants": {},
            "comparisons": {},
        }
        card = suite.protocol_card()
        if card is not None:  # reports print whether the numbers match the published ones
            block["protocol"] = card.to_dict()
        for variant, recs in by_variant.items():
            ok = [r for r in recs if not r.get("error")]
            summary: dict[str, Any] = {"n": len(recs), "errors": len(recs) - len(ok)}
            summary["scores"] = (
                (suite.summarize(recs) if suite.summarize_errors else suite.summarize(ok))
                if ok
                else {}
            )
            if ok and store is not None:
                suite.export(ok, store.artifacts(spec.name, variant), variant)
            summary["profile"] = profile_summary(ok)
            # Flags of the store: samples with NaN/inf values, samples with output warnings.
            non_finite = sum(1 for r in recs if r.get("non_finite"))
            warned = sum(1 for r in recs if r.get("warnings"))
            if non_finite:
                summary["non_finite"] = non_finite
            if warned:
                summary["warnings"] = warned
            summary.update(variant_metric_block(ok, metrics_info, spec.name, variant))
            block["variants"][variant] = summary
        if reference in by_variant:
            for variant, recs in by_variant.items():
                if variant == reference:
                    continue
                cmp = compare_variants(by_variant[reference], recs)
                cmp["reference"] = reference
                cmp.update(suite.compare(*paired(by_variant[reference], recs)))
                cmp.update(comparison_metric_block(metrics_info, spec.name, variant))
                block["comparisons"][variant] = cmp
        out["suites"][spec.name] = block
    if metrics_info:
        out["metrics_pass"] = pass_summary(metrics_info)
    return out

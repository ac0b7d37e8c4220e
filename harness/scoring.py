"""scores.json from the run store alone: per-variant summaries and paired comparisons.

For every suite: its declarations (primary metric, group field and kind, directions) and
the variants' roles, ``Suite.summarize`` per variant plus a profile summary (per workload
for workload-grouped suites: T2I and edit NFE are never averaged), then for every
non-reference variant the comparison engine's entries (:mod:`hbench.harness.comparisons`:
every figure once, with its method) and ``Suite.compare``'s suite-specific block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import comparisons as cmp
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
    costs: dict[str, list[float]] = {}
    for r in records:
        for k, v in (r.get("cost") or {}).items():
            costs.setdefault(k, []).append(float(v))
    if costs:
        out["cost_mean"] = {k: float(np.mean(v)) for k, v in sorted(costs.items())}
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
    out: dict[str, Any] = {
        "reference": reference,
        "roles": {v: config.system.role(v) for v in config.system.variants},
        "suites": {},
    }
    for spec in config.suites:
        suite = suites[spec.name]
        mine = [r for r in records if r["suite"] == spec.name]
        by_variant = {
            v: sorted(
                (r for r in mine if r["variant"] == v), key=lambda r: (r["sample"], r["seed"])
            )
            for v in spec.variants
        }
        meta = suite.meta()
        block: dict[str, Any] = {
            "primary_metric": suite.primary_metric,
            "declared": meta.to_dict(),
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
            if meta.group_kind == cmp.WORKLOAD and meta.group_field:
                summary["profile_by_group"] = {
                    g: profile_summary([r for r in ok if cmp.group_label(r, meta.group_field) == g])
                    for g in sorted({cmp.group_label(r, meta.group_field) for r in ok} - {None})
                }
                del summary["profile"]  # never pooled across workloads
            summary.update(variant_metric_block(ok, metrics_info, spec.name, variant))
            block["variants"][variant] = summary
        if reference in by_variant:
            for variant, recs in by_variant.items():
                if variant == reference:
                    continue
                ref, oth = cmp.paired(by_variant[reference], recs)
                role = config.system.role(variant)
                entry: dict[str, Any] = {"reference": reference, "role": role, "n_pairs": len(ref)}
                entry["estimates"] = cmp.compare(ref, oth, meta, role)
                entry.update(suite.compare(ref, oth))
                entry.update(comparison_metric_block(metrics_info, spec.name, variant))
                block["comparisons"][variant] = entry
        out["suites"][spec.name] = block
    if metrics_info:
        out["metrics_pass"] = pass_summary(metrics_info)
    return out

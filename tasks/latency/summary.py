"""Latency summaries and paired comparisons, computed from run-store records alone.

Per workload: seconds per sample (median, p10, p90, p99), tokens/s (Spec-Bench: mean over
samples of tokens / wall time), hook-counted NFE and batch-merged calls per image, the
stage breakdown (text: prefill / decode / draft / verify as the system reports them;
images: seconds inside each hooked module role, e.g. text encoder / generator (denoise) /
VAE decoder, plus the rest), peak memory, and two overhead shares:

* ``overhead_share``: time of the timed call outside every hooked module (glue, sampler
  arithmetic, un-hooked parts), over the profiled time;
* ``harness_share``: profiled time minus the system call's own time (hooks, timers,
  suite code), over the profiled time.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from hbench.harness import statistics as st

TEXT_STAGES: tuple[str, ...] = ("prefill_s", "decode_s", "draft_s", "verify_s")


def by_workload(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Records grouped by ``details.workload`` (sorted workload names, order kept)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        groups[rec["details"]["workload"]].append(rec)
    return dict(sorted(groups.items()))


def _profile_values(records: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r["profile"][key]) for r in records if r.get("profile", {}).get(key) is not None]


def _metric_values(records: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r["metrics"][key]) for r in records if key in r.get("metrics", {})]


def _count_summary(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "min": float(min(values)), "max": float(max(values))}


def summarize_workload(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Summary of one variant's records of one workload (errors already excluded)."""
    out: dict[str, Any] = {"n": len(records)}
    call = _metric_values(records, "seconds")
    profiled = _profile_values(records, "seconds")
    if call:
        out["seconds"] = st.percentiles(call).to_dict()
    if profiled:
        total = sum(profiled)
        out["profiled_seconds_median"] = float(np.median(profiled))
        overhead = sum(_profile_values(records, "overhead_seconds"))
        out["overhead_share"] = overhead / total if total > 0 else 0.0
        if call and len(call) == len(profiled):
            out["harness_share"] = max(0.0, total - sum(call)) / total if total > 0 else 0.0
    tps = _metric_values(records, "tokens_per_s")
    if tps:
        out["tokens_per_s"] = {"mean": float(np.mean(tps)), "median": float(np.median(tps))}
        out["new_tokens_mean"] = float(np.mean(_metric_values(records, "new_tokens")))
    tau = _metric_values(records, "acceptance_length")
    if tau:
        out["acceptance_length_mean"] = float(np.mean(tau))
    for key in ("nfe", "merged_calls"):
        vals = _profile_values(records, key)
        if vals:
            out[key] = _count_summary(vals)
    out["stages_s"] = _stages(records)
    mem = _profile_values(records, "peak_memory_bytes")
    if mem:
        out["peak_memory_bytes"] = int(max(mem))
        out["memory_kind"] = records[0]["profile"].get("memory_kind", "")
    return out


def _stages(records: list[dict[str, Any]]) -> dict[str, float]:
    """Mean seconds per stage: reported text stages, hooked module roles, and the rest."""
    stages: dict[str, float] = {}
    for name in TEXT_STAGES:
        vals = _metric_values(records, name)
        if vals:
            stages[name] = float(np.mean(vals))
    roles: dict[str, list[float]] = defaultdict(list)
    called: set[str] = set()
    for rec in records:
        for role, stats in rec.get("profile", {}).get("modules", {}).items():
            roles[role].append(float(stats.get("seconds", 0.0)))
            if stats.get("calls", 0):
                called.add(role)
    for role in sorted(called):  # roles the workload never calls are left out
        stages[f"{role}_s"] = float(np.mean(roles[role]))
    overhead = _profile_values(records, "overhead_seconds")
    if overhead:
        stages["outside_modules_s"] = float(np.mean(overhead))
    return stages


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-workload summaries of one variant's (non-errored) records."""
    return {"workloads": {w: summarize_workload(recs) for w, recs in by_workload(records).items()}}


def compare_workload(
    reference: list[dict[str, Any]], other: list[dict[str, Any]]
) -> dict[str, Any]:
    """Paired comparison of one workload; ``reference[i]`` and ``other[i]`` are the same sample."""
    # The paired speedup and the NFE ratio are the comparison engine's per-workload entries
    # (scores.json ``estimates``, scope ``workload=<w>``); this block adds what it does not.
    out: dict[str, Any] = {"n_pairs": len(reference)}
    ref_tps, oth_tps = (
        _metric_values(reference, "tokens_per_s"),
        _metric_values(other, "tokens_per_s"),
    )
    if ref_tps and len(ref_tps) == len(oth_tps):
        # Spec-Bench's speedup: ratio of the mean tokens/s of the two variants.
        out["tokens_per_s_ratio"] = float(np.mean(oth_tps) / np.mean(ref_tps))
    key = _output_key(reference + other)
    if key:
        same = [r["output"][key] == o["output"][key] for r, o in zip(reference, other, strict=True)]
        out["identical_outputs"] = {"field": key, **st.rate(same).to_dict()}
        if key == "token_ids":
            out["first_divergence"] = _first_divergences(reference, other)
    return out


def _output_key(records: list[dict[str, Any]]) -> str | None:
    for key in ("token_ids", "image_sha1"):
        if records and all(key in r.get("output", {}) for r in records):
            return key
    return None


def _first_divergences(
    reference: list[dict[str, Any]], other: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Up to five samples whose tokens differ, with the first differing position."""
    out = []
    for r, o in zip(reference, other, strict=True):
        a, b = r["output"]["token_ids"], o["output"]["token_ids"]
        if a != b:
            pos = next(
                (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)),
            )
            out.append({"sample": r["sample"], "position": pos})
    return out[:5]


def compare(reference: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-workload paired comparisons beyond the engine's entries (Spec-Bench tokens/s ratio,
    identical outputs); records already paired by sample and seed."""
    pairs: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for r, o in zip(reference, other, strict=True):
        pairs[r["details"]["workload"]][0].append(r)
        pairs[r["details"]["workload"]][1].append(o)
    return {"workloads": {w: compare_workload(*pairs[w]) for w in sorted(pairs)}}

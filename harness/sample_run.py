"""One sample of one variant: infer under the profiler, evaluate, and build its record.

A sample's failure is recorded, not raised; the run goes on (see :func:`run_item`).
"""

from __future__ import annotations

import errno
import traceback
from typing import Any

from .config import SuiteSpec
from .profiler import profile_sample
from .store import RunStore, RunStoreError, json_safe, now, record_key
from .suite import Item, Suite
from .system import CapabilityError, System, TextOutput

# A full or read-only disk is the machine's problem, not the sample's: the run stops (and
# resumes later) instead of recording every remaining sample as failed.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def run_item(
    suite: Suite,
    spec: SuiteSpec,
    system: System,
    variant: str,
    item: Item,
    store: RunStore,
    device: str,
    count_flops: bool = False,
) -> dict[str, Any]:
    """Infer, profile and evaluate one item for one variant; returns its record.

    A failure of the sample is recorded as its ``error``; a full or read-only disk and a
    broken run store stop the run instead. Non-finite values are stored as null and
    listed under ``non_finite``; a non-finite metric makes the sample an error.
    """
    artifacts = store.artifacts(spec.name, variant)
    record: dict[str, Any] = {
        "key": record_key(spec.name, item.sample, item.seed, variant),
        "suite": spec.name,
        "sample": item.sample,
        "seed": item.seed,
        "variant": variant,
        "output": {},
        "metrics": {},
        "details": {},
        "profile": {},
        "cost": {},
        "error": None,
    }
    try:
        flops = count_flops and suite.shardable  # never under a timing suite's clock
        with profile_sample(system.profiled_modules(), device, flops) as prof:
            output = suite.infer(system, item)
        if isinstance(output, TextOutput):
            prof.stages = {k: float(v) for k, v in output.stats.items() if k.endswith("_s")}
        record["profile"] = prof.to_dict()
        record["cost"] = cost_counters(record["profile"], output)
        result = suite.evaluate(item, output, artifacts)
        record.update(output=result.output, metrics=result.metrics, details=result.details)
    except (CapabilityError, KeyboardInterrupt, RunStoreError):
        raise
    except Exception as err:  # noqa: BLE001 - a sample's failure is recorded, the run goes on
        if isinstance(err, OSError) and err.errno in DISK_ERRNOS:
            raise
        record["error"] = {
            "type": type(err).__name__,
            "message": str(err),
            "where": traceback.format_exception(err)[-2].strip()[:500] if err.__traceback__ else "",
        }
    record, bad = json_safe(record)
    if bad:
        record["non_finite"] = bad
        bad_metrics = sorted(k for k in bad if k.startswith("metrics."))
        if bad_metrics and not record["error"]:
            record["error"] = {
                "type": "NonFiniteMetric",
                "message": ", ".join(
                    f"{k.removeprefix('metrics.')} = {bad[k]}" for k in bad_metrics
                ),
                "where": "",
            }
    if artifacts.warnings:
        record["warnings"] = list(artifacts.warnings)
    record["finished_at"] = now()
    return record


# Deterministic per-sample counters a system reports with its text (TextOutput.stats).
TEXT_COUNTERS = ("new_tokens", "target_forwards", "draft_forwards", "drafted_tokens",
                 "accepted_tokens")  # fmt: skip


def cost_counters(profile: dict[str, Any], output: Any) -> dict[str, float]:
    """The record's ``cost`` block: hook-counted NFE and merged calls, and for text the
    decoding counters and tau (tokens per target forward). These never depend on the clock,
    so claims on them cannot flake."""
    cost: dict[str, float] = {}
    for key in ("nfe", "merged_calls"):
        if profile.get(key) is not None:
            cost[key] = float(profile[key])
    # A suite's infer may wrap the system's answer (the latency suite's Timed(output, seconds)).
    output = output if isinstance(output, TextOutput) else getattr(output, "output", output)
    if isinstance(output, TextOutput):
        for key in TEXT_COUNTERS:
            if isinstance(output.stats.get(key), (int, float)):
                cost[key] = float(output.stats[key])
        if isinstance(output.stats.get("acceptance_length"), (int, float)):
            cost["tau"] = float(output.stats["acceptance_length"])
    flops = profile.pop("flops", None)
    if flops is not None:
        cost["flops"] = float(flops)
    return cost

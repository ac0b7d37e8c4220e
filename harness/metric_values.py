"""Reading the image-metrics post-pass's files back into scores (run-store view).

The post-pass (:mod:`hbench.harness.metrics_pass`) never rewrites ``records.jsonl``. It
appends per-sample values to ``RUN/metrics.jsonl``, one line per (record key, metric)::

    {"key": "geneval/00003/0000/123/nfe1", "metric": "hpsv2", "value": 27.1,
     "image": "images/geneval/nfe1/00003_0000.png", "sha1": "...", "fingerprint": "..."}

(a line with ``"error"`` instead of ``"value"`` records a sample the metric could not
score), and writes per-variant set metrics (FID, KID) and the pass's bookkeeping to
``RUN/metrics_pass.json``. Scoring merges the values into the records' ``metrics`` (the
last line of a (key, metric) wins; a suite's own metric of the same name is never
overwritten), so the generic paired comparison reports them like any suite metric.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import statistics as st
from .store import read_jsonl

METRIC_VALUES = "metrics.jsonl"
METRICS_PASS = "metrics_pass.json"


def latest_values(run_dir: str | Path) -> dict[str, dict[str, float]]:
    """Record key -> {metric: value} from ``metrics.jsonl`` (last line per pair wins)."""
    out: dict[str, dict[str, float]] = {}
    for line in read_jsonl(Path(run_dir) / METRIC_VALUES):
        values = out.setdefault(line["key"], {})
        if "value" in line and line["value"] is not None:
            values[line["metric"]] = float(line["value"])
        else:
            values.pop(line["metric"], None)
    return out


def merge_metric_values(records: list[dict[str, Any]], run_dir: str | Path) -> list[dict[str, Any]]:
    """Records with the post-pass's per-sample values added to ``metrics`` (copies)."""
    values = latest_values(run_dir)
    if not values:
        return records
    out = []
    for rec in records:
        extra = values.get(rec["key"])
        if extra:
            rec = dict(rec)
            rec["metrics"] = {**extra, **(rec.get("metrics") or {})}
        out.append(rec)
    return out


def read_metrics_pass(run_dir: str | Path) -> dict[str, Any]:
    """``metrics_pass.json`` of a run ({} when the run had no metrics)."""
    path = Path(run_dir) / METRICS_PASS
    return json.loads(path.read_text()) if path.exists() else {}


# Bookkeeping of one pass (what it found cached or reused, how long it took): kept in
# metrics_pass.json, left out of scores.json so that re-scoring an unchanged store (a resume
# of a finished run) writes the same scores.json.
PASS_HISTORY_KEYS = ("reused", "cached", "seconds")


def pass_summary(info: dict[str, Any]) -> dict[str, Any]:
    """``metrics_pass.json``'s per-metric block as scores.json shows it (store-derived only).

    ``scored`` counts the images that have a value of the metric's current settings,
    whether computed in this pass or reused from an earlier one.
    """
    out = {}
    for name, stats in (info.get("metrics") or {}).items():
        block = {k: v for k, v in stats.items() if k not in PASS_HISTORY_KEYS}
        if "scored" in stats:
            block["scored"] = int(stats.get("scored", 0)) + int(stats.get("reused", 0))
        out[name] = block
    return out


def _sample_metric_names(info: dict[str, Any], suite: str) -> list[str]:
    metrics = info.get("metrics") or {}
    return sorted(
        n for n, m in metrics.items() if m.get("kind") == "sample" and suite in m.get("suites", [])
    )


def variant_metric_block(
    ok_records: list[dict[str, Any]], info: dict[str, Any], suite: str, variant: str
) -> dict[str, Any]:
    """``sample_metrics`` (mean with a bootstrap interval) and ``set_metrics`` of a variant."""
    out: dict[str, Any] = {}
    sample: dict[str, Any] = {}
    for name in _sample_metric_names(info, suite):
        vals = [r["metrics"][name] for r in ok_records if name in (r.get("metrics") or {})]
        if vals:
            sample[name] = st.mean_interval(vals).to_dict()
    if sample:
        out["sample_metrics"] = sample
    sets = (((info.get("suites") or {}).get(suite) or {}).get("variants") or {}).get(variant)
    if sets:
        out["set_metrics"] = sets
    return out


def comparison_metric_block(info: dict[str, Any], suite: str, variant: str) -> dict[str, Any]:
    """``set_metrics`` differences of ``variant`` against the reference (if any)."""
    sets = (((info.get("suites") or {}).get(suite) or {}).get("comparisons") or {}).get(variant)
    return {"set_metrics": sets} if sets else {}

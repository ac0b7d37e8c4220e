"""A plain-text table of a run's image metrics, read from its scores.json only.

One row per (suite, metric, variant): the variant's mean with its 95% bootstrap interval
(per-sample metrics) or its set value (FID, KID; ``*`` marks a set below the metric's
minimum size), and for each variant other than the reference its paired difference
against the reference with the interval. Imports no torch.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any


def _num(x: Any, digits: int = 3) -> str:
    return "–" if not isinstance(x, (int, float)) else f"{x:.{digits}g}"


def _interval(est: Any, lo: Any, hi: Any, signed: bool = False) -> str:
    if not isinstance(est, (int, float)):
        return "–"
    head = f"{est:+.3g}" if signed else f"{est:.3g}"
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        return f"{head} [{lo:.3g}, {hi:.3g}]"
    return head


def metric_rows(scores: dict[str, Any]) -> list[tuple[str, ...]]:
    """Rows ``(suite, metric, direction, variant, n, value, delta)`` of a scores.json."""
    info = scores.get("metrics_pass") or {}
    reference = scores.get("reference")
    rows = []
    for suite, block in sorted((scores.get("suites") or {}).items()):
        for name, meta in sorted(info.items()):
            if suite not in meta.get("suites", []):
                continue
            arrow = "↑" if meta.get("higher_is_better", True) else "↓"
            variants = block.get("variants") or {}
            order = sorted(variants, key=lambda name: (name != reference, name))
            for variant in order:
                v = variants[variant]
                cmp = (block.get("comparisons") or {}).get(variant) or {}
                if meta.get("kind") == "set":
                    val = (v.get("set_metrics") or {}).get(name)
                    d = (cmp.get("set_metrics") or {}).get(name)
                    if not val:
                        continue
                    n = str(val.get("n", "–")) + ("*" if val.get("too_small") else "")
                    value = _num(val.get("value"))
                else:
                    val = (v.get("sample_metrics") or {}).get(name)
                    found = next(
                        (
                            e
                            for e in cmp.get("estimates") or []
                            if e.get("id") == f"diff:{name}|all"
                        ),
                        None,
                    )
                    d = found and {**found, "mean_diff": found["estimate"]}
                    if not val:
                        continue
                    n = str(val.get("n", "–"))
                    value = _interval(val.get("estimate"), val.get("low"), val.get("high"))
                delta = "(reference)" if variant == reference else "–"
                if d:
                    delta = _interval(d.get("mean_diff"), d.get("ci_low"), d.get("ci_high"), True)
                rows.append((suite, name, arrow, variant, n, value, delta))
    return rows


def metrics_table(run_dir: str | PathLike[str]) -> str:
    """The image-metrics table of a run directory ("" when the run has no metrics).

    Raises:
        FileNotFoundError: No scores.json in ``run_dir``.
    """
    path = Path(run_dir) / "scores.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no scores.json")
    rows = metric_rows(json.loads(path.read_text()))
    if not rows:
        return ""
    cols = ("suite", "metric", "", "variant", "n", "value [95% CI]", "Δ vs reference [95% CI]")
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    lines = ["image metrics (post-pass; ↑/↓ = higher/lower is better)"]
    lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if any(r[4].endswith("*") for r in rows):
        lines.append(
            "* fewer images than the metric's minimum (FID: 2048, the Inception feature "
            "dimension; KID: 1000): values are biased/noisy, compare variants at equal n only"
        )
    return "\n".join(lines) + "\n"

"""Plain-text summary of a run: score per suite and variant, NFE, seconds, overhead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _fmt(value: Any, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "-"


def headline(suite_block: dict[str, Any], variant: str) -> tuple[str, Any]:
    """The suite's headline score of one variant: (name, value)."""
    scores = suite_block["variants"][variant].get("scores", {})
    for key in ("overall", "accuracy", "O", "exact_match", "score"):
        if isinstance(scores.get(key), (int, float)):
            return key, scores[key]
    for key, value in scores.items():
        if isinstance(value, (int, float)):
            return key, value
    return "-", None


def summary_table(run_dir: Path) -> str:
    """A fixed-width table of ``scores.json`` (one row per suite and variant)."""
    path = Path(run_dir) / "scores.json"
    if not path.exists():
        return f"{run_dir}: no scores.json yet (run unfinished?)"
    scores = json.loads(path.read_text())
    ref = scores.get("reference")
    head = f"{'suite':<14}{'variant':<10}{'score':>16}{'n':>6}{'err':>5}{'NFE':>8}{'s/sample':>10}{'speedup':>9}{'overhead':>9}"
    lines = [head, "-" * len(head)]
    for suite, block in scores.get("suites", {}).items():
        for variant, summary in block.get("variants", {}).items():
            name, value = headline(block, variant)
            prof = summary.get("profile", {})
            cmp = block.get("comparisons", {}).get(variant, {})
            speed = cmp.get("speedup", {}).get("median") if variant != ref else None
            score = f"{name}={_fmt(value)}" if value is not None else "-"
            lines.append(
                f"{suite:<14}{variant:<10}{score:>16}{summary.get('n', 0):>6}{summary.get('errors', 0):>5}"
                f"{_fmt(prof.get('nfe_mean'), '.1f'):>8}{_fmt(prof.get('seconds_median'), '.4f'):>10}"
                f"{(_fmt(speed, '.2f') + 'x') if speed else '-':>9}{_fmt(prof.get('overhead_share'), '.1%'):>9}"
            )
    return "\n".join(lines)

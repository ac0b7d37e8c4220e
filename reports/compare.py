"""``hbench report RUN_OLD RUN_NEW``: what changed between two runs, figure by figure.

One row per (suite, variant) present in both runs: the headline score, the speedup against
the reference (per workload for latency), NFE per sample, median seconds per sample and
the mean acceptance length, each as old → new with the change. The figures themselves draw
both runs (marker and line style per run); this table gives their numbers side by side.
"""

from __future__ import annotations

from . import data, roles, text
from .run import NoData, Run
from .table import Table, fmt, fmt_seconds


def _change(old: float | None, new: float | None, ratio: bool = False, digits: int = 3) -> str:
    if old is None or new is None:
        return f"{fmt(old, digits)} → {fmt(new, digits)}"
    if ratio:
        change = f"{new / old:.2f}×" if old else "–"
        return f"{old:.{digits}g} → {new:.{digits}g} ({change})"
    return f"{old:.{digits}f} → {new:.{digits}f} ({new - old:+.{digits}f})"


def _seconds(old: float | None, new: float | None) -> str:
    if old is None or new is None or old <= 0:
        return f"{fmt_seconds(old)} → {fmt_seconds(new)}"
    return f"{fmt_seconds(old)} → {fmt_seconds(new)} ({new / old:.2f}×)"


def _tau(run: Run, suite: str, variant: str) -> float | None:
    taus = text.acceptance_lengths(run, suite, variant)
    return sum(taus) / len(taus) if taus else None


def delta_table(runs: list[Run]) -> Table:
    """Before (first run) → after (second run) of every per-variant figure both runs have."""
    if len(runs) != 2:
        raise NoData("before/after deltas need exactly two runs")
    old, new = runs
    rows = []
    for suite in sorted(set(old.suites()) & set(new.suites())):
        shared = [v for v in new.variants(suite) if v in old.variants(suite)]
        for variant in roles.in_run_order(new, shared):
            a, b = data.variant_view(old, suite, variant), data.variant_view(new, suite, variant)
            score = "–"
            if a.score is not None or b.score is not None:
                score = _change(
                    a.score.value if a.score else None, b.score.value if b.score else None
                )
            speed = []
            if roles.role(new, variant) == roles.CANDIDATE:
                for g in data.speedup_groups(new, suite):
                    sa, sb = (
                        data.speedup(old, suite, variant, g),
                        data.speedup(new, suite, variant, g),
                    )
                    if sa is not None or sb is not None:
                        head = f"{g}: " if g else ""
                        speed.append(
                            head + _change(sa.value if sa else None, sb.value if sb else None, True)
                        )
            rows.append(
                (
                    suite,
                    variant,
                    score,
                    "; ".join(speed) or "–",
                    _change(a.nfe_mean, b.nfe_mean, True) if a.nfe_mean or b.nfe_mean else "–",
                    _seconds(a.seconds_median, b.seconds_median),
                    _change(_tau(old, suite, variant), _tau(new, suite, variant), True)
                    if _tau(old, suite, variant) or _tau(new, suite, variant)
                    else "–",
                )
            )
    if not rows:
        raise NoData("the two runs share no (suite, variant)")
    columns = (
        "Suite",
        "Variant",
        "Score (old → new)",
        "Speedup (old → new)",
        "NFE / sample",
        "Seconds / sample (median)",
        "τ (mean)",
    )
    notes = (
        f"old = {old.label}, new = {new.label}. Score changes are new - old; speedup, NFE, "
        "time and τ changes are new / old. These are point estimates of two separate runs; "
        "their intervals are in each run's own tables.",
    )
    title = f"Before → after: {old.label} → {new.label}"
    align = ("l", "l", "r", "r", "r", "r", "r")
    return Table("deltas", title, columns, tuple(rows), align, notes)

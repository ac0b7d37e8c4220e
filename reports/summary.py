"""A plain-text summary of one run, for the terminal (``hbench demo`` prints it)."""

from __future__ import annotations

from os import PathLike

from . import data, text
from .run import load_run
from .table import Table, fmt, fmt_seconds, fmt_share, to_text
from .tables import _est


def summary_text(run_dir: str | PathLike[str]) -> str:
    """Score per suite and variant, NFE per image, seconds per sample, overhead share, and
    each accelerated variant's speedup, Δ headline metric and (text suites) exact match.

    Args:
        run_dir: a run directory of the run store.

    Returns:
        Aligned plain text ending with a newline.

    Raises:
        RunStoreError: if the directory is not a readable run.
    """
    run = load_run(run_dir)
    rows = []
    for suite in run.suites():
        primary = data.primary_metric(run, suite)
        for variant in run.variants(suite):
            v = data.variant_view(run, suite, variant)
            score = f"{fmt(v.score.value)} {v.score_name}" if v.score is not None else "–"
            speed = delta = exact = "–"
            if variant != run.reference:
                groups = data.speedup_groups(run, suite)
                speed = ", ".join(
                    (f"{g} " if g else "") + _est(data.speedup(run, suite, variant, g), "×")
                    for g in groups
                )
                if primary:
                    delta = _est(data.metric_diff(run, suite, variant, primary), signed=True)
                em = text.exact_match(run, suite, variant)
                if em is not None:
                    exact = f"{em.matches}/{em.n}"
            rows.append(
                (
                    suite,
                    variant,
                    f"{v.n - v.errors}/{v.n}",
                    score,
                    fmt(v.nfe_mean, 1),
                    fmt_seconds(v.seconds_median),
                    fmt_share(v.overhead_share),
                    speed,
                    delta,
                    exact,
                )
            )
    columns = (
        "suite",
        "variant",
        "ok",
        "score",
        "NFE/image",
        "s/sample (median)",
        "overhead",
        "speedup [95% CI]",
        "Δ primary [95% CI]",
        "exact match",
    )
    git = (run.manifest.get("git") or {}).get("revision") or "?"
    title = (
        f"hbench run {run.label} (git {str(git)[:7]}, {run.manifest.get('device', '?')}, "
        f"reference: {run.reference})"
    )
    notes = tuple(f"note: {p}" for p in run.problems)
    if not rows:
        notes += ("note: no suite has records or scores",)
    table = Table("summary_text", title, columns, tuple(rows), ("l", "l") + ("r",) * 8, notes)
    return to_text(table)

"""A plain-text summary of one run, for the terminal (``hbench demo`` prints it)."""

from __future__ import annotations

from os import PathLike

from . import claims_table, data, roles, text, verdict
from .run import NoData, load_run
from .table import Table, fmt, fmt_seconds, fmt_share, to_text
from .tables import _est


def summary_text(run_dir: str | PathLike[str], claims: str | PathLike[str] | None = None) -> str:
    """The verdict block first (one row per accelerated variant and suite), then score per
    suite and variant, NFE per image, seconds per sample, overhead share, and each
    accelerated variant's speedup, Δ headline metric and (text suites) exact match.

    Args:
        run_dir: a run directory of the run store.
        claims: a claims file: its table (decided by ``hbench gate``'s checks) follows the
            verdict, and its non-inferiority margins are the verdict's.

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
            if roles.role(run, variant) == roles.CANDIDATE:
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
    head = []
    margins = None
    if claims is not None:
        claims_file = claims_table.load(claims)
        margins = verdict.margins_from_claims(claims_file)
    try:
        head.append(to_text(verdict.verdict_table([run], margins)))
    except NoData:
        pass
    if claims is not None:
        head.append(to_text(claims_table.claims_table([run], claims_file)))
    return "\n".join([*head, to_text(table)])

"""A plain-text summary of one run, for the terminal (``hbench demo`` prints it)."""

from __future__ import annotations

import math
import textwrap
from os import PathLike

from . import claims_table, data, roles, text, verdict
from .run import NoData, load_run
from .table import Table, fmt, fmt_seconds, fmt_share, fmt_signed, to_text

# Group names of multi-workload suites (latency), shortened so the table fits 100 columns.
_SHORT_GROUPS = {"understanding": "und"}

NOTES = (
    "score: each suite's headline metric (score column's suffix); Δ score: paired difference "
    "from the reference, * when its 95% interval excludes 0",
    "speedup: median of paired per-sample time ratios against the reference; a suite with "
    "several workloads (latency) gets one row per workload (und = understanding)",
    "overhead: share of a sample's time spent outside the model's forward passes (sampling loop, "
    "tokenizer, image conversion); 100% for a system without a network (oracle)",
)


def summary_text(run_dir: str | PathLike[str], claims: str | PathLike[str] | None = None) -> str:
    """The verdict block first (one row per accelerated variant and suite), then score per
    suite and variant, NFE per image, seconds per sample, overhead share, and each
    accelerated variant's speedup, Δ headline metric and (text suites) exact match.

    Fits 100 columns: point estimates only (the report has the intervals), and a suite with
    several workloads (latency) gets one speedup per line.

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
    rows: list[tuple[str, ...]] = []
    for suite in run.suites():
        primary = data.primary_metric(run, suite)
        groups = data.speedup_groups(run, suite)  # [None] unless workload-grouped (latency)
        for variant, group in [(v, g) for v in run.variants(suite) for g in groups]:
            v = data.variant_view(run, suite, variant, group)  # never pooled across workloads
            score = f"{fmt(v.score.value)} {v.score_name}" if v.score is not None else "–"
            speed, delta, exact = "–", "–", "–"
            if primary and variant != run.reference:
                delta = _delta(data.metric_diff(run, suite, variant, primary))
            if roles.role(run, variant) == roles.CANDIDATE:
                speed = _times(data.speedup(run, suite, variant, group))
                em = text.exact_match(run, suite, variant, group)
                if em is not None:
                    exact = f"{em.matches}/{em.n}"
            label = suite if group is None else f"{suite}: {_SHORT_GROUPS.get(group, group)}"
            rows.append((label, variant, f"{v.n - v.errors}/{v.n}", score, fmt(v.nfe_mean, 1),
                         fmt_seconds(v.seconds_median), fmt_share(v.overhead_share), speed,
                         delta, exact))  # fmt: skip
    columns = ("suite", "variant", "ok", "score", "NFE", "s/sample", "overhead", "speedup")
    columns += ("Δ score", "exact")
    git = (run.manifest.get("git") or {}).get("revision") or "?"
    title = (
        f"hbench run {run.label} (git {str(git)[:7]}, {run.manifest.get('device', '?')}, "
        f"reference: {run.reference})"
    )
    notes = tuple(f"note: {p}" for p in run.problems)
    if not rows:
        notes += ("note: no suite has records or scores",)
    else:
        notes += tuple(textwrap.fill(n, 100, subsequent_indent="  ") for n in NOTES)
        notes += (f"intervals, per-type tables and images: hbench report {run_dir}",)
    table = Table("summary_text", title, columns, tuple(rows), ("l", "l") + ("r",) * 8, notes)
    head = []
    margins = None
    if claims is not None:
        claims_file = claims_table.load(claims)
        margins = verdict.margins_from_claims(claims_file)
    try:
        head.append(to_text(verdict.verdict_text_table(run, margins)))
    except NoData:
        pass
    if claims is not None:
        head.append(to_text(claims_table.claims_table([run], claims_file)))
    return "\n".join([*head, to_text(table)])


def _times(e: data.Estimate | None) -> str:
    """A speedup: ``1.00×``, ``15.3×``, ``2137×`` (two decimals below 10, then fewer)."""
    if e is None or not math.isfinite(e.value):
        return "–"
    digits = 2 if e.value < 10 else 1 if e.value < 100 else 0
    return f"{e.value:.{digits}f}×"


def _delta(e: data.Estimate | None) -> str:
    """A paired difference, starred when its interval excludes 0."""
    if e is None:
        return "–"
    sure = e.low is not None and e.high is not None and (e.low > 0 or e.high < 0)
    return fmt_signed(e.value) + ("*" if sure else "")

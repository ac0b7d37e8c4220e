"""The verdict block: one row per accelerated variant and suite, answering "is it lossless,
how much faster, at what cost" before any detail table.

Every number comes through :func:`comparison`, the one place that reads a comparison of a
variant against the reference. Today it reads ``scores.json``'s ``comparisons`` block (and
falls back to the records through :mod:`.data` and :mod:`.text`); when the shared
comparison results of issue #22 land, only this function changes.

Quality rules (DESIGN.md, "Lossless"):

* text suites: lossless when every paired output is token-identical (exact-match rate with
  its Wilson 95% interval);
* other suites: paired non-inferiority per quality metric, ``Δ`` lower bound > ``-margin``.
  Margins come from ``--claims`` (claims of the form ``diff_ci_low >= -m``), else
  :data:`DEFAULT_MARGINS`; a metric without a margin is shown but not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hbench.harness import statistics as st

from . import data, roles, text
from .run import NoData, Run
from .table import Table, fmt, fmt_signed

# Margins of paired non-inferiority when no claims file gives one: 0.01 on 0..1 accuracy
# (issue #7's GenEval margin), 0.1 on the 0..10 VIEScore scale (claims/hyper-bagel.yaml).
DEFAULT_MARGINS: dict[str, float] = {"correct": 0.01, "O": 0.1, "SC": 0.1, "PQ": 0.1}

WORDS = {
    "lossless": "every paired text output is token-identical and the speedup's interval is above 1",
    "non-inferior": "every judged metric's Δ lower bound is above -margin and the speedup's "
    "interval is above 1",
    "lossy": "a judged metric is significantly worse (Δ upper bound < 0) or text outputs differ",
    "slower": "the speedup's upper bound is below 1",
    "unresolved": "an interval is too wide to decide (Δ reaches below -margin without a "
    "significant loss, or the speedup's interval contains 1)",
}


@dataclass(frozen=True)
class ExactSummary:
    """Exact match of text outputs: matches of n, with a Wilson interval on the rate."""

    matches: int
    n: int
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """One variant against the reference in one suite, as the verdict needs it."""

    suite: str
    variant: str
    reference: str
    speedup: data.Estimate | None
    exact: ExactSummary | None
    diffs: dict[str, data.Estimate] = field(default_factory=dict)
    nfe: tuple[float | None, float | None] = (None, None)  # (reference, variant) per sample
    calls: tuple[float | None, float | None] = (None, None)  # batch-merged generator calls
    tau: float | None = None  # mean acceptance length (text)


def _exact(run: Run, suite: str, variant: str) -> ExactSummary | None:
    lossless = data.comparison_block(run, suite, variant).get("lossless")
    if isinstance(lossless, dict) and isinstance(lossless.get("n"), int) and lossless["n"] > 0:
        n, bad = int(lossless["n"]), int(lossless.get("divergent") or 0)
        w = st.wilson(n - bad, n)
        return ExactSummary(n - bad, n, w.low, w.high)
    em = text.exact_match(run, suite, variant)
    return None if em is None else ExactSummary(em.matches, em.n, em.low, em.high)


def comparison(run: Run, suite: str, variant: str, metrics: list[str]) -> Comparison:
    """The comparison of ``variant`` against the run's reference in ``suite``.

    Args:
        run: the run.
        suite: a suite of the run.
        variant: an accelerated variant of that suite.
        metrics: quality metrics to give paired differences for (absent ones are skipped).
    """
    diffs = {}
    for m in metrics:
        d = data.metric_diff(run, suite, variant, m)
        if d is not None:
            diffs[m] = d
    ref_view = data.variant_view(run, suite, run.reference)
    view = data.variant_view(run, suite, variant)
    taus = text.acceptance_lengths(run, suite, variant)
    return Comparison(
        suite=suite,
        variant=variant,
        reference=run.reference,
        speedup=data.speedup(run, suite, variant),
        exact=_exact(run, suite, variant),
        diffs=diffs,
        nfe=(ref_view.nfe_mean, view.nfe_mean),
        calls=(ref_view.merged_calls_mean, view.merged_calls_mean),
        tau=sum(taus) / len(taus) if taus else None,
    )


def margin_of(margins: dict[str, float], suite: str, metric: str) -> float | None:
    """The margin of ``metric`` in ``suite``: ``"suite/metric"`` first, then ``"metric"``."""
    return margins.get(f"{suite}/{metric}", margins.get(metric))


def metric_status(d: data.Estimate, margin: float | None) -> str:
    """better / non-inferior / worse / unclear / "not judged" for one paired difference."""
    if d.low is None or d.high is None:
        return "not judged"
    if d.high < 0:
        return "worse"
    if margin is None:
        return "not judged"
    if d.low > 0:
        return "better"
    if d.low > -margin:
        return "non-inferior"
    return "unclear"


def verdict_word(c: Comparison, margins: dict[str, float]) -> str:
    """The one-word verdict of a comparison (see :data:`WORDS`)."""
    if c.exact is not None:
        quality = "lossless" if c.exact.matches == c.exact.n else "lossy"
    else:
        states = [metric_status(d, margin_of(margins, c.suite, m)) for m, d in c.diffs.items()]
        judged = [s for s in states if s != "not judged"]
        if "worse" in states:
            quality = "lossy"
        elif judged and all(s in ("better", "non-inferior") for s in judged):
            quality = "non-inferior"
        else:
            quality = "unresolved"
    if quality == "lossy":
        return "lossy"
    sp = c.speedup
    if sp is not None and sp.high is not None and sp.high < 1.0:
        return "slower"
    if sp is None or sp.low is None or sp.low <= 1.0:
        return "unresolved"
    return quality


def _quality_cell(c: Comparison, margins: dict[str, float]) -> str:
    if c.exact is not None:
        e = c.exact
        return f"exact {e.matches}/{e.n} [{fmt(e.low, 2)}, {fmt(e.high, 2)}]"
    parts = []
    for m, d in c.diffs.items():
        interval = "" if d.low is None else f" [{fmt_signed(d.low, 2)}, {fmt_signed(d.high, 2)}]"
        status = metric_status(d, margin_of(margins, c.suite, m))
        parts.append(f"Δ{m} {fmt_signed(d.value, 2)}{interval} {status}")
    return "; ".join(parts) or "–"


def _cost_cell(c: Comparison) -> str:
    ref, var = c.nfe
    if ref and var:
        text = f"NFE {ref:g} → {var:g} ({ref / var:.1f}×)"
        calls_ref, calls_var = c.calls
        if calls_ref and calls_var and (calls_ref, calls_var) != (ref, var):
            text += f"; calls {calls_ref:g} → {calls_var:g}"  # CFG rows batched into one call
        return text
    if c.tau is not None:
        return f"τ {c.tau:.2f} tokens / forward"
    return "–"


def _speed_cell(sp: data.Estimate | None) -> str:
    if sp is None:
        return "–"
    if sp.low is None or sp.high is None:
        return f"{sp.value:.2f}×"
    return f"{sp.value:.2f}× [{sp.low:.2f}, {sp.high:.2f}]"


def judged_metrics(run: Run, suite: str, margins: dict[str, float]) -> list[str]:
    """The suite's primary metric first, then other metrics that have a margin."""
    primary = data.primary_metric(run, suite)
    names = [primary] if primary else []
    present = set()
    for v in roles.candidates(run, suite):
        present |= set((data.comparison_block(run, suite, v).get("metrics") or {}).keys())
    names += sorted(
        m for m in present if margin_of(margins, suite, m) is not None and m not in names
    )
    return names


def verdict_rows(
    run: Run, margins: dict[str, float] | None = None
) -> list[tuple[Comparison, str, str, str, str]]:
    """(comparison, quality cell, speedup cell, cost cell, verdict word) per candidate and
    suite that has a quality metric; candidates in the run's order."""
    margins = {**DEFAULT_MARGINS, **(margins or {})}
    out = []
    order = roles.in_run_order(run, {v for s in run.suites() for v in roles.candidates(run, s)})
    for variant in order:
        for suite in run.suites():
            if (
                variant not in roles.candidates(run, suite)
                or data.primary_metric(run, suite) is None
            ):
                continue
            c = comparison(run, suite, variant, judged_metrics(run, suite, margins))
            if c.speedup is None and c.exact is None and not c.diffs:
                continue
            out.append(
                (
                    c,
                    _quality_cell(c, margins),
                    _speed_cell(c.speedup),
                    _cost_cell(c),
                    verdict_word(c, margins),
                )
            )
    return out


def verdict_table(runs: list[Run], margins: dict[str, float] | None = None) -> Table:
    """The verdict block as a table (one row per accelerated variant and suite)."""
    several = len(runs) > 1
    rows = []
    for run in runs:
        for c, quality, speed, cost, word in verdict_rows(run, margins):
            rows.append(
                (
                    word,
                    c.variant,
                    *((run.label,) if several else ()),
                    c.suite,
                    quality,
                    speed,
                    cost,
                )
            )
    if not rows:
        raise NoData("no accelerated variant has a comparison with the reference")
    columns = (
        "Verdict",
        "Variant",
        *(("Run",) if several else ()),
        "Suite",
        "Quality vs reference [95% CI]",
        "Speedup [95% CI]",
        "Cost",
    )
    align = ("l",) * (len(columns) - 2) + ("r", "l")
    used = {r[columns.index("Verdict")] for r in rows}
    all_margins = {**DEFAULT_MARGINS, **(margins or {})}
    notes = tuple(f"{w}: {WORDS[w]}." for w in WORDS if w in used) + (
        "Margins (m) of paired non-inferiority: "
        + ", ".join(f"{k} {v:g}" for k, v in sorted(all_margins.items()))
        + ". Exact-match intervals are Wilson; Δ and speedup intervals are 95% paired "
        "bootstrap. Bounds (oracles) are not accelerated variants and are left out.",
    )
    title = "Accelerated variants against the reference, per suite"
    return Table("verdict", title, columns, tuple(rows), align, notes)


def _compact_quality(c: Comparison, margins: dict[str, float]) -> str:
    if c.exact is not None:
        return f"exact {c.exact.matches}/{c.exact.n}"
    parts = []
    for m, d in c.diffs.items():
        sure = d.low is not None and d.high is not None and (d.low > 0 or d.high < 0)
        parts.append(f"Δ{m} {fmt_signed(d.value, 2)}{'*' if sure else ''}")
    return ", ".join(parts) or "–"


def _compact_cost(c: Comparison) -> str:
    ref, var = c.nfe
    if ref and var:
        return f"NFE {ref:g}→{var:g}"
    return f"τ {c.tau:.2f}" if c.tau is not None else "–"


def verdict_text_table(run: Run, margins: dict[str, float] | None = None) -> Table:
    """The verdict block for a terminal (fits 100 columns): the same rows and words as
    :func:`verdict_table`, point estimates only (``*``: the Δ's interval excludes 0)."""
    all_margins = {**DEFAULT_MARGINS, **(margins or {})}
    rows = tuple(
        (word, c.variant, c.suite, _compact_quality(c, all_margins),
         "–" if c.speedup is None else f"{c.speedup.value:.2f}×", _compact_cost(c))
        for c, _quality, _speed, _cost, word in verdict_rows(run, margins)
    )  # fmt: skip
    if not rows:
        raise NoData("no accelerated variant has a comparison with the reference")
    columns = ("verdict", "variant", "suite", "quality vs reference", "speedup", "cost")
    notes = ("verdict words, intervals and margins: the report's Verdict section",)
    return Table("verdict_text", "Verdict", columns, rows, ("l",) * 4 + ("r", "l"), notes)


def margins_from_claims(claims: object) -> dict[str, float]:
    """Non-inferiority margins from a claims file's ``check: diff_ci_low, op: >=, value: -m``
    claims, keyed ``"suite/metric"``."""
    out: dict[str, float] = {}
    for c in getattr(claims, "claims", ()):
        if c.check == "diff_ci_low" and c.op in (">=", ">") and c.metric and c.value <= 0:
            if math.isfinite(c.value):
                out[f"{c.suite}/{c.metric}"] = -float(c.value)
    return out

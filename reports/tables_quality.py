"""Quality tables: per-group tables of every grouped suite (GenEval tags, GEdit task types),
exact match and first divergences. Suites are recognised by what they declare in scores.json
(group field, report metrics), never by their configured name."""

from __future__ import annotations

import numpy as np

from . import data, text
from .comparability import comparability_note
from .run import NoData, Run
from .table import Table, fmt, fmt_interval
from .tables import DEFINITIONS, _est, _run_cell, _run_cols, _union_variants

MAX_DIVERGENCES = 25  # rows of the first-divergence table; the rest are counted in a note


def group_table(runs: list[Run], suite: str, metric: str, key: str, title: str) -> Table:
    """Per group (GenEval tag / GEdit task type) mean ``metric`` of every variant, and each
    accelerated variant's paired Δ against the reference with a 95% bootstrap interval.

    Two summary rows follow the groups: ``overall`` (unweighted mean of the group means, the
    official rule) and ``all samples (paired)`` (Δ over all pairs, as scores.json gives it).
    """
    have = [r for r in runs if suite in r.suites()]
    if not have:
        raise NoData(f"no run has the {suite} suite")
    variants = _union_variants(have, suite)
    accelerated = [v for v in variants if any(v != r.reference for r in have)]  # bounds too
    columns: list[str] = ["Group", *_run_cols(runs), "n"]
    for v in variants:
        columns.append(f"{v} {metric}")
        if v in accelerated:
            columns.append(f"Δ {v} [95% CI]")
    rows = []
    for run in have:
        means = {v: data.group_means(run, suite, v, metric) for v in run.variants(suite)}
        groups = sorted({g for m in means.values() for g in m})
        if not groups:
            continue
        for group in groups:
            n = max((m[group][1] for m in means.values() if group in m), default=0)
            row = [group, *_run_cell(runs, run), str(n)]
            for v in variants:
                row.append(fmt(means[v][group][0]) if group in means.get(v, {}) else "–")
                if v in accelerated:
                    row.append(_delta(run, suite, v, metric, group))
            rows.append(tuple(row))
        rows.append(_overall_row(runs, run, suite, metric, variants, accelerated, means, groups))
        rows.append(_paired_row(runs, run, suite, metric, variants, accelerated))
    if not rows:
        raise NoData(f"no {suite} record has metric {metric!r}")
    notes = (
        "overall: unweighted mean of the group means; Δ overall is the unweighted mean over "
        "groups of the paired Δ, with a bootstrap stratified by group (the figure hbench gate "
        "checks with group_by). all samples (paired): mean paired Δ over every sample.",
        DEFINITIONS[2],
        comparability_note(have, [suite]),
    )
    align = ("l", *("l" for _ in _run_cols(runs))) + ("r",) * (
        len(columns) - 1 - len(_run_cols(runs))
    )
    return Table(key, title, tuple(columns), tuple(rows), align, notes)


def _delta(
    run: Run, suite: str, variant: str, metric: str, group: str | None, pooled: bool = False
) -> str:
    if variant == run.reference or variant not in run.variants(suite):
        return "–"
    return _est(data.metric_diff(run, suite, variant, metric, group, pooled), signed=True)


def _overall_row(runs, run, suite, metric, variants, accelerated, means, groups) -> tuple:
    """Unweighted mean over groups per variant; Δ: the engine's stratified overall entry."""
    overall = {
        v: float(np.mean([m[0] for m in means[v].values()]))
        for v in means
        if means[v] and set(means[v]) == set(groups)
    }
    n = sum(max(m[g][1] for m in means.values() if g in m) for g in groups)
    row = ["overall", *_run_cell(runs, run), str(n)]
    for v in variants:
        row.append(fmt(overall.get(v)))
        if v in accelerated:
            found = (
                None
                if v == run.reference
                else data.estimate(run, suite, v, "diff", metric, "overall")
            )
            row.append(_est(found, signed=True))
    return tuple(row)


def _paired_row(runs, run, suite, metric, variants, accelerated) -> tuple:
    n = max((len(data.pairs(run, suite, v)) for v in data.compared_variants(run, suite)), default=0)
    row = ["all samples (paired)", *_run_cell(runs, run), str(n)]
    for v in variants:
        row.append("")
        if v in accelerated:
            row.append(_delta(run, suite, v, metric, None, pooled=True))
    return tuple(row)


def grouped_suites(runs: list[Run]) -> list[str]:
    """Suites that declare a group field of kind strata and report metrics (GenEval, GEdit)."""
    found = set()
    for run in runs:
        for suite in run.suites():
            m = data.meta(run, suite)
            if m.group_field and m.group_kind == "strata" and m.report_metrics:
                found.add(suite)
    return sorted(found)


def suite_group_tables(runs: list[Run], suite: str) -> list[Table]:
    """One per-group table per declared report metric of ``suite`` (GEdit: O, SC, PQ)."""
    have = [r for r in runs if suite in r.suites()]
    if not have:
        raise NoData(f"no run has the {suite} suite")
    m = data.meta(have[0], suite)
    return [
        group_table(
            runs,
            suite,
            metric,
            f"{suite}_{metric.lower()}",
            f"{suite}: {metric} per {m.group_field}",
        )  # fmt: skip
        for metric in m.report_metrics
    ]


def text_suites(runs: list[Run]) -> list[str]:
    """Suites whose records carry text outputs (understanding, in practice)."""
    found = set()
    for run in runs:
        for r in run.records:
            if isinstance((r.get("output") or {}).get("text"), str):
                found.add(r["suite"])
    return sorted(found)


def exact_match_table(runs: list[Run]) -> Table:
    """Exact-match rate (Wilson 95% CI), mean acceptance length and speedup per variant."""
    rows = []
    for suite in text_suites(runs):
        for run in runs:
            for variant, group in _text_keys(run, suite):
                em = text.exact_match(run, suite, variant, group)
                if em is None:
                    continue
                scope = data.scope_of(run, suite, group)
                tau = data.estimate(run, suite, variant, "tau", None, scope)
                rows.append(
                    (
                        suite if group is None else f"{suite}: {group}",
                        variant,
                        *_run_cell(runs, run),
                        em.reference,
                        em.compared_on,
                        f"{em.matches}/{em.n}",
                        fmt_interval(em.matches / em.n, em.low, em.high),
                        str(len(em.divergences)),
                        _est(tau),
                        _est(data.speedup(run, suite, variant, group), "×"),
                    )
                )
    if not rows:
        raise NoData("no text outputs paired with a reference")
    columns = (
        "Suite",
        "Variant",
        *_run_cols(runs),
        "Reference",
        "Compared on",
        "Exact",
        "Exact-match rate [95% CI]",
        "Divergent",
        "τ [min, max]",
        "Speedup [95% CI]",
    )
    align = ("l", "l", *("l" for _ in _run_cols(runs)), "l", "l") + ("r",) * 5
    return Table(
        "exact_match",
        "Exact match against the reference (greedy decoding)",
        columns,
        tuple(rows),
        align,
        (DEFINITIONS[4], DEFINITIONS[3], comparability_note(runs, sorted({r[0] for r in rows}))),
    )


def divergence_table(runs: list[Run]) -> Table:
    """The first divergence of every sample whose output differs from the reference's."""
    rows, total, compared = [], 0, 0
    for suite in text_suites(runs):
        for run in runs:
            for variant, group in _text_keys(run, suite):
                em = text.exact_match(run, suite, variant, group)
                compared += em.n if em else 0
                for d in em.divergences if em else ():
                    total += 1
                    if len(rows) >= MAX_DIVERGENCES:
                        continue
                    token = "–" if d.token_index is None else str(d.token_index)
                    ids = f"{_tok(d.reference_token)} → {_tok(d.other_token)}"
                    rows.append(
                        (
                            suite,
                            variant,
                            *_run_cell(runs, run),
                            d.sample,
                            token,
                            ids,
                            str(d.char_index),
                            d.reference_text,
                            d.other_text,
                        )
                    )
    if not compared:
        raise NoData("no text outputs paired with a reference")
    columns = (
        "Suite",
        "Variant",
        *_run_cols(runs),
        "Sample",
        "First token",
        "Token ids",
        "Char",
        "Reference text",
        "Accelerated text",
    )
    align = ("l", "l", *("l" for _ in _run_cols(runs)), "l", "r", "l", "r", "l", "l")
    notes = (
        "Token ids: reference → accelerated at the first differing token "
        "(end = the output ended there).",
    )
    if not total:
        notes += (f"No divergence: all {compared} compared outputs are identical.",)
    if total > len(rows):
        notes += (f"{total - len(rows)} more divergent samples not shown.",)
    notes += (comparability_note(runs, text_suites(runs)),)
    return Table("divergences", "First divergences", columns, tuple(rows), align, notes)


def _text_keys(run: Run, suite: str) -> list[tuple[str, str | None]]:
    """(candidate, workload) pairs of the text tables: per workload for workload suites."""
    groups = data.speedup_groups(run, suite)
    return [(v, g) for v in data.accelerated_variants(run, suite) for g in groups]


def _tok(token: int | None) -> str:
    return "end" if token is None else str(token)

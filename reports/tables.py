"""Run-level tables: the runs compared, the per-suite summary, speedups, latency breakdown.

Each builder is a pure function ``(runs) -> Table`` and raises :class:`NoData` when the runs
hold nothing for it. With several runs a ``Run`` column puts them side by side.
"""

from __future__ import annotations

import numpy as np

from . import data, roles
from .comparability import comparability_note, comparable_cell
from .run import NoData, Run
from .table import Table, fmt, fmt_interval, fmt_seconds, fmt_share

DEFINITIONS = (
    "NFE: forward passes of the generator network per image, counted by forward hooks "
    "(a CFG step with conditional and unconditional rows is 2 NFE); merged calls: the "
    "batch-merged forward calls.",
    "Speedup: reference time / accelerated time for the same sample, median of the paired "
    "ratios, measured interleaved after warm-up; the interval is a 95% percentile bootstrap.",
    "Δ: mean over paired samples (same prompt, seed, image) of accelerated - reference, with a "
    "95% paired-bootstrap interval (10,000 resamples, seed 0).",
    "Acceptance length τ: tokens committed per target-model forward (1.0 for plain decoding).",
    "Lossless text: token-identical greedy output per sample (the text where a variant records "
    "no token ids); exact-match intervals are Wilson.",
    "Roles: the reference is what every comparison is against; candidates (accelerated variants) "
    "get speedup, divergence and cost rows; bounds (an oracle) get quality rows only. Every "
    "comparison is computed once at scoring (scores.json, method named) and read by this report "
    "and by hbench gate. Workloads (T2I, edit, understanding) are never pooled.",
    "Timing claims (rule: sequential): interleaved repeated blocks; after each block from the "
    "second, the 95% bootstrap interval of the median paired ratio over the blocks so far: pass "
    "when its lower bound clears the threshold, fail when its upper bound is below it, else "
    "another block, up to a cap, then inconclusive (exit 4). See docs/gate.md.",
)


def _run_cols(runs: list[Run]) -> tuple[str, ...]:
    return ("Run",) if len(runs) > 1 else ()


def _run_cell(runs: list[Run], run: Run) -> tuple[str, ...]:
    return (run.label,) if len(runs) > 1 else ()


def runs_table(runs: list[Run]) -> Table:
    """Provenance of every run: revision, host, device, dtype, versions, times, problems."""
    rows = []
    for run in runs:
        m = run.manifest
        git = m.get("git") or {}
        revision = str(git.get("revision") or "–")[:12] + (" (dirty)" if git.get("dirty") else "")
        host = m.get("host") or {}
        versions = m.get("versions") or {}
        lib = ", ".join(f"{k} {versions[k]}" for k in ("torch", "python") if k in versions)
        rows.append(
            (
                run.label,
                revision,
                str(host.get("hostname") or "–"),
                f"{m.get('device', '–')} / {m.get('dtype', '–')}",
                lib or "–",
                str(m.get("started") or "–"),
                str(m.get("finished") or "–"),
                str(len(run.records)),
                "; ".join(run.problems) or "none",
            )
        )
    columns = (
        "Run",
        "Git revision",
        "Host",
        "Device / dtype",
        "Versions",
        "Started",
        "Finished",
        "Records",
        "Problems",
    )
    return Table("runs", "Runs compared", columns, tuple(rows), align=("l",) * len(columns))


def summary_table(runs: list[Run]) -> Table:
    """Per suite and variant: samples, errors, headline score, NFE, time, overhead, memory."""
    rows = []
    for suite in sorted({s for r in runs for s in r.suites()}):
        variants = _union_variants(runs, suite)
        for variant in variants:
            for run, group in _summary_keys(runs, suite):
                if variant not in run.variants(suite):
                    continue
                v = data.variant_view(run, suite, variant, group)
                score = "–"
                if v.score is not None:
                    score = f"{fmt(v.score.value)} ({v.score_name})"
                memory = f"{v.peak_memory_bytes / 2**20:.1f} MiB" if v.peak_memory_bytes else "–"
                rows.append(
                    (
                        suite if group is None else f"{suite}: {group}",
                        variant,
                        *_run_cell(runs, run),
                        str(v.n),
                        str(v.errors),
                        score,
                        fmt(v.nfe_mean, 1),
                        fmt(v.merged_calls_mean, 1),
                        fmt_seconds(v.seconds_median),
                        fmt_share(v.overhead_share),
                        memory,
                        comparable_cell(run, suite),
                    )
                )
    if not rows:
        raise NoData("no suite has records or scores")
    columns = (
        "Suite",
        "Variant",
        *_run_cols(runs),
        "n",
        "Errors",
        "Score",
        "NFE / image",
        "Merged calls",
        "Seconds / sample (median)",
        "Overhead share",
        "Peak memory",
        "Comparable to published",
    )
    align = ("l", "l", *("l" for _ in _run_cols(runs))) + ("r",) * 8 + ("l",)
    notes = (
        "Score: the suite's headline (GenEval and GEdit overall = unweighted mean of the "
        "per-tag / per-task-type means). Overhead share: harness time outside the model's "
        "forwards / total time.",
        DEFINITIONS[0],
        comparability_note(runs),
    )
    return Table("summary", "Summary per suite and variant", columns, tuple(rows), align, notes)


def _summary_keys(runs: list[Run], suite: str) -> list[tuple[Run, str | None]]:
    """(run, workload) rows of the summary: a workload-grouped suite gets one row per workload
    (T2I and edit NFE and times are never averaged together)."""
    return [(run, g) for run in runs for g in data.speedup_groups(run, suite)]


def _union_variants(runs: list[Run], suite: str) -> list[str]:
    out: list[str] = []
    for run in runs:
        out += [v for v in roles.in_run_order(run, run.variants(suite)) if v not in out]
    return out


def speedup_table(runs: list[Run]) -> Table:
    """Paired speedup and headline-metric delta of every accelerated variant."""
    rows = []
    for suite in sorted({s for r in runs for s in r.suites()}):
        for run in runs:
            primary = data.primary_metric(run, suite)
            for variant, group in _speedup_keys(run, suite):
                sp = data.speedup(run, suite, variant, group)
                diff = data.metric_diff(run, suite, variant, primary) if primary else None
                n_pairs = len(data.pairs(run, suite, variant))
                if sp is not None and sp.n is not None:
                    n_pairs = sp.n
                if sp is None and diff is None:
                    continue
                rows.append(
                    (
                        suite if group is None else f"{suite}: {group}",
                        variant,
                        *_run_cell(runs, run),
                        run.reference,
                        str(n_pairs),
                        _est(sp, "×"),
                        primary or "–",
                        _est(diff, signed=True),
                    )
                )
    if not rows:
        raise NoData("no accelerated variant has paired samples with its reference")
    columns = (
        "Suite",
        "Variant",
        *_run_cols(runs),
        "Reference",
        "Pairs",
        "Speedup [95% CI]",
        "Metric",
        "Δ metric [95% CI]",
    )
    align = ("l", "l", *("l" for _ in _run_cols(runs)), "l", "r", "r", "l", "r")
    return Table(
        "speedup",
        "Speedup and quality change against the reference",
        columns,
        tuple(rows),
        align,
        (*DEFINITIONS[1:3], comparability_note(runs, sorted({r[0].split(":")[0] for r in rows}))),
    )


def _speedup_keys(run: Run, suite: str) -> list[tuple[str, str | None]]:
    """(variant, group) pairs a speedup is shown for (groups: latency workloads); bounds
    (oracles) are not accelerated variants and get none."""
    groups = data.speedup_groups(run, suite)
    return [(v, g) for v in roles.candidates(run, suite) for g in groups]


def _est(e: data.Estimate | None, unit: str = "", signed: bool = False) -> str:
    if e is None:
        return "–"
    digits = 2 if unit else 3
    text = fmt_interval(e.value, e.low, e.high, digits, signed=signed)
    head, sep, tail = text.partition(" [")
    return f"{head}{unit}{sep}{tail}"


def latency_rows(run: Run, suite: str) -> list[tuple[str, str, float, float, float, int]]:
    """(group, variant, mean model s, mean overhead s, median s, n) from the records.

    Groups are the latency suite's workloads, else the whole suite. Means are used for the
    parts so that the stacked parts add up to the mean time per sample.
    """
    out = []
    workloads = data.meta(run, suite).group_kind == "workload"
    for variant in run.variants(suite):
        groups: dict[str, list[tuple[float, float]]] = {}
        for r in run.ok_records(suite, variant):
            prof = r.get("profile") or {}
            total = data._num(prof.get("seconds"))
            if total is None:
                total = data._num((r.get("metrics") or {}).get("seconds"))
            if total is None:
                continue
            model = data._num(prof.get("model_seconds"))
            overhead = data._num(prof.get("overhead_seconds"))
            if model is None:
                model = total - overhead if overhead is not None else total
            if overhead is None:
                overhead = max(0.0, total - model)
            key = data.group_of(r, suite, run) if workloads else "all"
            groups.setdefault(key, []).append((model, overhead, total))
        for key, values in sorted(groups.items()):
            arr = np.asarray(values)
            out.append(
                (
                    key,
                    variant,
                    float(arr[:, 0].mean()),
                    float(arr[:, 1].mean()),
                    float(np.median(arr[:, 2])),
                    len(values),
                )
            )
    return out


def latency_table(runs: list[Run]) -> Table:
    """Time per sample split into model forwards and harness overhead, per suite / workload."""
    rows = []
    for run in runs:
        for suite in run.suites():
            for group, variant, model, overhead, median, n in latency_rows(run, suite):
                total = model + overhead
                rows.append(
                    (
                        suite,
                        group,
                        variant,
                        *_run_cell(runs, run),
                        str(n),
                        fmt_seconds(model),
                        fmt_seconds(overhead),
                        fmt_share(overhead / total if total > 0 else None),
                        fmt_seconds(median),
                    )
                )
    if not rows:
        raise NoData("no record has profile seconds")
    columns = (
        "Suite",
        "Workload",
        "Variant",
        *_run_cols(runs),
        "n",
        "Model (mean)",
        "Overhead (mean)",
        "Overhead share",
        "Total (median)",
    )
    align = ("l", "l", "l", *("l" for _ in _run_cols(runs))) + ("r",) * 5
    notes = (comparability_note(runs, sorted({r[0] for r in rows})),)
    return Table("latency", "Latency breakdown per sample", columns, tuple(rows), align, notes)

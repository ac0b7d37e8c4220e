"""Report figures: speedups, quality-vs-cost frontiers, acceptance, latency by stage.

Each function takes run directories (or loaded runs) and an output directory, writes
``figures/<name>.png`` and ``.pdf`` at a paper width (:data:`FIGURE_WIDTHS`), and returns
the PNG path; it raises :class:`NoData` when the runs hold nothing to plot. Bounds
(oracles, see :mod:`.roles`) get no speedup; each variant keeps one colour everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from hbench.harness import statistics as st

from . import data, roles, text
from .figure_io import (
    ONE_COLUMN,
    RUN_LINESTYLES,
    RUN_MARKERS,
    TWO_COLUMN,
    as_runs,
    colour,
    new_figure,
    save,
    style,
)
from .run import NoData, Run
from .table import fmt_seconds
from .tables_quality import text_suites

RunDirs = Sequence[Run | str | PathLike[str]]

# Declared print width of every figure (inches); tests check the PDFs against it.
FIGURE_WIDTHS: dict[str, float] = {
    "speedup": TWO_COLUMN,
    "frontier": TWO_COLUMN,
    "acceptance": ONE_COLUMN,
    "latency": TWO_COLUMN,
}


def _suites(runs: list[Run]) -> list[str]:
    return sorted({s for r in runs for s in r.suites()})


def _all_variants(runs: list[Run], suite: str | None = None) -> list[str]:
    """Variants in the runs' declared order: the order that fixes unknown variants' colours."""
    out: list[str] = []
    for run in runs:
        names = {v for s in ([suite] if suite else run.suites()) for v in run.variants(s)}
        out += [v for v in roles.in_run_order(run, names) if v not in out]
    return out


def _plain_log_axis(axis) -> None:
    # plain numbers: the default log labels are mathtext, which the style turns off
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _count_ratio(run: Run, suite: str, variant: str, key: str, group: str | None) -> float | None:
    """Reference / variant mean of a hook count (``nfe``, ``merged_calls``) per sample."""

    def mean(name: str) -> float | None:
        vals = [
            data._num((r.get("profile") or {}).get(key))
            for r in run.ok_records(suite, name)
            if group is None or data.group_of(r, suite, run) == group
        ]
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    ref, var = mean(run.reference), mean(variant)
    return ref / var if ref and var else None


def nfe_ratio(run: Run, suite: str, variant: str, group: str | None = None) -> float | None:
    """The speedup limit of a cut in generator work: reference / variant NFE per sample, or
    the ratio of batch-merged calls when that is larger (a variant that batches its CFG rows
    makes fewer calls than NFE). If the model's time is a per-call cost plus a per-row cost,
    cutting calls and rows gives at most the larger ratio. None without hook counts."""
    ratios = [_count_ratio(run, suite, variant, k, group) for k in ("nfe", "merged_calls")]
    ratios = [r for r in ratios if r is not None]
    return max(ratios) if ratios else None


def _speedup_rows(runs: list[Run]):
    """(label, variant, run index, estimate, nfe ratio) per candidate, suite and workload."""
    rows = []
    for suite in _suites(runs):
        keys: list[tuple[str, str | None]] = []
        for run in runs:
            if suite not in run.suites():
                continue
            for g in data.speedup_groups(run, suite):
                keys += [(v, g) for v in roles.candidates(run, suite) if (v, g) not in keys]
        for variant, group in keys:
            for i, run in enumerate(runs):
                if suite not in run.suites() or variant not in roles.candidates(run, suite):
                    continue
                est = data.speedup(run, suite, variant, group)
                if est is None:
                    continue
                where = suite if group is None else f"{suite}/{group}"
                rows.append(
                    (f"{where} · {variant}", variant, i, est, nfe_ratio(run, suite, variant, group))
                )
    return rows


def speedup_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Median paired speedup with its 95% interval per accelerated variant (log axis), the 1x
    line, and the NFE ratio marked where the variant cuts NFE (bounds are left out)."""
    runs = as_runs(run_dirs)
    rows = _speedup_rows(runs)
    if not rows:
        raise NoData("no paired timings of an accelerated variant and its reference")
    variants = _all_variants(runs)
    labels = list(dict.fromkeys(r[0] for r in rows))
    offsets = np.linspace(-0.2, 0.2, len(runs)) if len(runs) > 1 else [0.0]
    with style():
        row_height = 0.2 + 0.12 * (len(runs) - 1)  # one marker per run in each row
        # room for the axis label and legend below the rows, however few rows there are
        fig = new_figure(FIGURE_WIDTHS["speedup"], 1.1 + row_height * len(labels))
        ax = fig.subplots()
        values: list[float] = []
        shown_limit = False
        for label, variant, i, est, ratio in rows:
            y = labels.index(label) + offsets[i]
            low = est.low if est.low is not None else est.value
            high = est.high if est.high is not None else est.value
            ax.errorbar(
                [est.value],
                [y],
                xerr=[[est.value - low], [high - est.value]],
                fmt=RUN_MARKERS[i % len(RUN_MARKERS)],
                color=colour(variant, variants),
                markersize=4,
                capsize=2,
                elinewidth=0.8,
            )
            # a value column right of the axes (forest-plot style): never on top of a tick
            interval = f" [{low:.2f}, {high:.2f}]" if est.low is not None else ""
            ax.annotate(
                f"{est.value:.2f}×{interval}",
                (1.0, y),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
                color=colour(variant, variants) if len(runs) > 1 else "black",
            )
            values += [low, high]
            if ratio is not None and ratio > 1.0001:
                ax.plot([ratio], [y], marker="|", color="#555555", markersize=8, mew=1.2)
                values.append(ratio)
                shown_limit = True
        ax.axvline(1.0, color="black", linewidth=0.8, zorder=0)
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
        lo, hi = min(values + [1.0]), max(values + [1.0])
        ax.set_xlim(lo / 1.4, hi * 1.4)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlabel("speedup vs reference (×, log scale; line at 1× = no speedup)")
        ax.grid(axis="x", which="major", linewidth=0.3, color="#cccccc")
        handles = []
        if shown_limit:
            handles.append(
                Line2D([], [], color="#555555", marker="|", linestyle="", markersize=8,
                       mew=1.2, label="limit of the NFE / call cut")
            )  # fmt: skip
        handles += _run_handles(runs)
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)))
        return save(fig, out_dir, "speedup")


def _run_handles(runs: list[Run]) -> list[Line2D]:
    """Legend entries mapping marker / line style to runs (only with several runs)."""
    if len(runs) < 2:
        return []
    return [
        Line2D([], [], color="black", marker=RUN_MARKERS[i % len(RUN_MARKERS)],
               linestyle=RUN_LINESTYLES[i % len(RUN_LINESTYLES)], label=run.label)
        for i, run in enumerate(runs)
    ]  # fmt: skip


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (lower cost, higher score), by increasing cost.

    A point is dominated when another has cost <= and score >= with one strictly better.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best = -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def quality_point(run: Run, suite: str, variant: str) -> tuple[str, st.PairedDiff] | None:
    """The variant's headline score (unweighted mean over groups of the primary metric) with a
    stratified 95% bootstrap interval, computed from the records."""
    metric = data.primary_metric(run, suite)
    if metric is None:
        return None
    values, groups = [], []
    for r in run.ok_records(suite, variant):
        v = data._metric(r, metric)
        if v is not None:
            values.append(v)
            groups.append(data.group_of(r, suite, run))
    if not values:
        return None
    # a paired difference against zero is the score itself; with groups it is the
    # unweighted mean of the group means with a bootstrap stratified by group
    diff = st.paired_bootstrap([0.0] * len(values), values, groups=groups)
    name = "overall" if len(set(groups)) > 1 else metric
    return name, diff


def _cost(run: Run, suite: str, variant: str, kind: str) -> tuple[float, float, float] | None:
    """(value, low, high) of a cost: NFE per sample (exact) or median seconds (bootstrap)."""
    if kind == "nfe":
        nfe = data.variant_view(run, suite, variant).nfe_mean
        return (nfe, nfe, nfe) if nfe else None
    secs = [data._profile(r, "seconds") for r in run.ok_records(suite, variant)]
    arr = np.asarray([s for s in secs if s and s > 0])
    if arr.size == 0:
        return None
    dist = st.bootstrap_distribution(arr, "median", st.DEFAULT_RESAMPLES, st.DEFAULT_SEED)
    low, high = np.quantile(dist, [0.025, 0.975])
    return float(np.median(arr)), float(low), float(high)


def frontier_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Headline quality against cost (NFE per image; median seconds per sample), one row per
    image suite, with 95% intervals; the line joins only the non-dominated variants. Bounds
    are drawn as a dotted ceiling, not as frontier points."""
    runs = as_runs(run_dirs)
    kinds = (("nfe", "NFE per image (log)"), ("seconds", "median seconds per sample (log)"))
    panels = []
    for suite in _suites(runs):
        if not any(data.variant_view(r, suite, r.reference).nfe_mean for r in runs):
            continue  # quality vs cost is for the image suites (hook-counted NFE)
        series = []
        for i, run in enumerate(runs):
            for v in run.variants(suite):
                q = quality_point(run, suite, v)
                if q is None:
                    continue
                costs = {k: _cost(run, suite, v, k) for k, _ in kinds}
                series.append((i, run, v, roles.role(run, v), q, costs))
        if series:
            panels.append((suite, series))
    if not panels:
        raise NoData("no variant has both an NFE count and a quality score")
    variants = _all_variants(runs)
    with style():
        fig = new_figure(FIGURE_WIDTHS["frontier"], 0.5 + 2.1 * len(panels))
        axes = fig.subplots(len(panels), 2, squeeze=False)
        for row, (suite, series) in enumerate(panels):
            for col, (kind, xlabel) in enumerate(kinds):
                ax = axes[row][col]
                for i in range(len(runs)):
                    pts = [s for s in series if s[0] == i and s[5][kind] and s[3] != roles.BOUND]
                    for _, _, v, _, (_, d), costs in pts:
                        x, xl, xh = costs[kind]
                        ax.errorbar(
                            [x], [d.mean_diff],
                            xerr=[[x - xl], [xh - x]], yerr=[[d.mean_diff - d.ci_low], [d.ci_high - d.mean_diff]],
                            fmt=RUN_MARKERS[i % len(RUN_MARKERS)], color=colour(v, variants),
                            markersize=4, capsize=2, elinewidth=0.7, zorder=3,
                        )  # fmt: skip
                        ax.annotate(
                            v,
                            (x, d.mean_diff),
                            xytext=(4, 3),
                            textcoords="offset points",
                            fontsize=7,
                        )
                    xy = [(s[5][kind][0], s[4][1].mean_diff) for s in pts]
                    front = [pts[k] for k in pareto_front(xy)]
                    if len(front) > 1:
                        ax.plot(
                            [f[5][kind][0] for f in front], [f[4][1].mean_diff for f in front],
                            color="#444444", linewidth=0.8, linestyle=RUN_LINESTYLES[i % 4], zorder=2,
                        )  # fmt: skip
                    for _, _, v, _, (_, d), _ in (
                        s for s in series if s[0] == i and s[3] == roles.BOUND
                    ):
                        ax.axhline(
                            d.mean_diff, color=colour(v, variants), linestyle=":", linewidth=0.8
                        )
                        ax.annotate(f"{v} (bound)", (0.01, d.mean_diff), xycoords=("axes fraction", "data"),
                                    xytext=(0, -8), textcoords="offset points", fontsize=7)  # fmt: skip
                ax.set_xscale("log")
                _plain_log_axis(ax.xaxis)
                ax.set_xlabel(xlabel)
                name = series[0][4][0]
                ax.set_ylabel(f"{suite} {name}")
                ax.margins(x=0.25, y=0.12)
        handles = [Line2D([], [], color="#444444", linewidth=0.8, label="non-dominated frontier")]
        handles += _run_handles(runs)
        fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)))
        return save(fig, out_dir, "frontier")


def acceptance_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """One column, two panels: the per-sample acceptance length τ of each speculative
    variant, and its acceptance rate per draft position (n = samples at position 1).
    Colour = variant, line style = suite; with several runs, marker and shade = run."""
    runs = as_runs(run_dirs)
    hist, pos = [], []
    suites = text_suites(runs) or _suites(runs)
    for si, suite in enumerate(suites):
        for i, run in enumerate(runs):
            for variant in roles.candidates(run, suite):
                taus = text.acceptance_lengths(run, suite, variant)
                if taus and max(taus) > 1.0:  # plain decoding (τ = 1) has nothing to show
                    hist.append((si, suite, i, run, variant, taus))
                rates = text.acceptance_per_position(run, suite, variant)
                if rates:
                    pos.append((si, suite, i, run, variant, rates))
    if not hist and not pos:
        raise NoData("no record has acceptance_length > 1 or accept_per_position")
    variants = _all_variants(runs)

    def shade(i: int) -> float:
        return max(0.35, 1.0 - 0.3 * i)

    with style():
        fig = new_figure(FIGURE_WIDTHS["acceptance"], 4.6)  # one column: panels stacked
        ax_h, ax_p = fig.subplots(2, 1)
        values = [t for h in hist for t in h[5]]
        top = max(values) if values else 2.0
        bins = np.linspace(1.0, max(2.0, np.ceil(top)), 21)
        for si, suite, i, _, variant, taus in hist:
            ax_h.hist(
                taus, bins=bins, histtype="step", linewidth=1.0, alpha=shade(i),
                linestyle=RUN_LINESTYLES[si % len(RUN_LINESTYLES)],
                color=colour(variant, variants), label=f"{variant} · {suite}" if i == 0 else None,
            )  # fmt: skip
        ax_h.set_xlabel("acceptance length τ (tokens / target forward)")
        ax_h.set_ylabel("samples")
        ax_h.yaxis.set_major_locator(MaxNLocator(integer=True))
        for si, suite, i, _, variant, rates in pos:
            ks = np.arange(1, len(rates) + 1)
            ax_p.plot(
                ks, [r for r, _ in rates], marker=RUN_MARKERS[i % len(RUN_MARKERS)], markersize=3,
                linestyle=RUN_LINESTYLES[si % len(RUN_LINESTYLES)], alpha=shade(i),
                color=colour(variant, variants),
                label=f"{variant} · {suite} (n={rates[0][1]})" if i == 0 else None,
            )  # fmt: skip
        ax_p.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_p.set_xlabel("draft position")
        ax_p.set_ylabel("acceptance rate")
        ax_p.set_ylim(0.0, 1.05)
        for ax, have in ((ax_h, hist), (ax_p, pos)):
            if have:
                ax.legend(loc="best", frameon=True, framealpha=0.85, edgecolor="none")
            else:
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
        handles = _run_handles(runs)
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncols=1)
        return save(fig, out_dir, "acceptance")


# Display names of stages: text stages the runtime reports, hooked module roles, the rest.
STAGE_NAMES = {
    "prefill_s": "prefill",
    "draft_s": "draft",
    "verify_s": "verify",
    "decode_s": "decode",
    "generator": "denoise",
    "vae": "VAE decode",
    "vae_decoder": "VAE decode",
    "text_encoder": "text encode",
    "language_model": "LM forwards",
    "drafter": "draft",
    "glue": "glue (outside the model)",
}
# Stages take cividis colours (colour-blind safe), not the variants' Okabe-Ito colours, so a
# stage is never mistaken for a variant; glue is light grey.
STAGE_COLOURS = ("#00204D", "#31446B", "#666970", "#958F78", "#CBBA69", "#FFEA46", "#7C7B78")


def stage_seconds(record: dict) -> dict[str, float]:
    """One record's time split into non-overlapping stages (see :data:`STAGE_NAMES`).

    Text: prefill, draft, verify, the rest of decode, glue (total - prefill - decode). Images:
    seconds inside each hooked module, glue = total - modules.
    """
    metrics, prof = record.get("metrics") or {}, record.get("profile") or {}
    total = data._num(metrics.get("seconds")) or data._num(prof.get("seconds"))
    if total is None:
        return {}
    out: dict[str, float] = {}
    prefill, decode = data._num(metrics.get("prefill_s")), data._num(metrics.get("decode_s"))
    if prefill is not None or decode is not None:
        prefill, decode = prefill or 0.0, decode or 0.0
        draft = data._num(metrics.get("draft_s")) or 0.0
        verify = data._num(metrics.get("verify_s")) or 0.0
        out.update(prefill_s=prefill, draft_s=draft, verify_s=verify)
        out["decode_s"] = max(0.0, decode - draft - verify)
        out["glue"] = max(0.0, total - prefill - decode)
        return out
    inside = 0.0
    for role, m in sorted((prof.get("modules") or {}).items()):
        secs = data._num((m or {}).get("seconds")) if isinstance(m, dict) else None
        if secs:
            out[role] = secs
            inside += secs
    out["glue"] = max(0.0, total - inside)
    return out


def latency_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Mean seconds per sample stacked by stage (prefill, draft, verify, decode, denoise,
    VAE decode, glue), one panel per latency workload (else per suite); bounds left out."""
    runs = as_runs(run_dirs)
    suites = ["latency"] if any("latency" in r.suites() for r in runs) else _suites(runs)
    panels: dict[str, list[tuple[str, dict[str, float]]]] = {}
    for suite in suites:
        for run in runs:
            if suite not in run.suites():
                continue
            for variant in roles.in_run_order(run, run.variants(suite)):
                if roles.role(run, variant) == roles.BOUND:
                    continue
                groups: dict[str, list[dict[str, float]]] = {}
                for r in run.ok_records(suite, variant):
                    parts = stage_seconds(r)
                    if parts:
                        groups.setdefault(data.group_of(r, suite, run), []).append(parts)
                for group, parts in sorted(groups.items()):
                    keys = sorted({k for p in parts for k in p})
                    mean = {k: float(np.mean([p.get(k, 0.0) for p in parts])) for k in keys}
                    title = suite if group == "all" else f"{suite}: {group}"
                    name = variant + (f" · {run.label}" if len(runs) > 1 else "")
                    panels.setdefault(title, []).append((name, mean))
    if not panels:
        raise NoData("no record has seconds")
    stages = list(
        dict.fromkeys(STAGE_NAMES.get(k, k) for b in panels.values() for _, m in b for k in m)
    )
    order = list(dict.fromkeys(STAGE_NAMES.values()))
    stages.sort(key=lambda s: order.index(s) if s in order else len(order))
    fill = {s: STAGE_COLOURS[i % len(STAGE_COLOURS)] for i, s in enumerate(stages)}
    fill["glue (outside the model)"] = "#BBBBBB"
    heights = [0.55 + 0.16 * len(b) for b in panels.values()]
    with style():
        fig = new_figure(FIGURE_WIDTHS["latency"], sum(heights) + 0.8)
        axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
        for ax, (title, bars) in zip(axes, panels.items(), strict=True):
            for y, (_name, mean) in enumerate(bars):
                left = 0.0
                merged: dict[str, float] = {}
                for k, secs in mean.items():
                    merged[STAGE_NAMES.get(k, k)] = merged.get(STAGE_NAMES.get(k, k), 0.0) + secs
                for stage in stages:
                    width = merged.get(stage, 0.0)
                    if width > 0:
                        ax.barh(
                            y,
                            width,
                            left=left,
                            color=fill[stage],
                            edgecolor="white",
                            linewidth=0.3,
                            height=0.7,
                        )
                        left += width
                ax.annotate(fmt_seconds(left), (left, y), xytext=(3, 0), textcoords="offset points",
                            va="center", fontsize=7)  # fmt: skip
            ax.set_yticks(range(len(bars)), [b[0] for b in bars])
            ax.set_ylim(len(bars) - 0.5, -0.5)
            ax.set_title(title, loc="left")
            ax.margins(x=0.12)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 1000:g}"))
        axes[-1].set_xlabel("mean milliseconds per sample")
        handles = [Patch(facecolor=fill[s], label=s) for s in stages]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)))
        return save(fig, out_dir, "latency")

"""Report figures: speedup bars, quality-vs-NFE frontier, acceptance, latency breakdown.

Each function takes run directories (or loaded runs) and an output directory, writes
``figures/<name>.png`` and ``.pdf``, and returns the PNG path; it raises :class:`NoData`
when the runs hold nothing to plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from . import data, text
from .figure_io import RUN_HATCHES, as_runs, colour, new_figure, save, style
from .run import NoData, Run
from .tables import _speedup_keys, latency_rows
from .tables_quality import text_suites

RunDirs = Sequence[Run | str | PathLike[str]]


def _suites(runs: list[Run]) -> list[str]:
    return sorted({s for r in runs for s in r.suites()})


def _all_variants(runs: list[Run], suite: str | None = None) -> list[str]:
    out: list[str] = []
    for run in runs:
        for s in [suite] if suite else run.suites():
            out += [v for v in run.variants(s) if v not in out]
    return out


def speedup_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Median paired speedup with its 95% interval, one panel per suite, bars per variant
    (and per run, hatched, when several runs are compared)."""
    runs = as_runs(run_dirs)
    panels = []
    for suite in _suites(runs):
        bars = [
            (variant, i, data.speedup(run, suite, variant, group), group)
            for i, run in enumerate(runs)
            for variant, group in _speedup_keys(run, suite)
        ]
        bars = [b for b in bars if b[2] is not None]
        if bars:
            panels.append((suite, bars))
    if not panels:
        raise NoData("no paired timings of an accelerated variant and its reference")
    variants = _all_variants(runs)
    counts = [len({(v, g) for v, _, _, g in bars}) for _, bars in panels]
    with style():
        fig = new_figure(sum(0.9 + 0.75 * c for c in counts), 2.8)
        axes = fig.subplots(1, len(panels), squeeze=False, width_ratios=counts)[0]
        for ax, (suite, bars) in zip(axes, panels, strict=True):
            names = list(dict.fromkeys(_bar_name(v, g) for v, _, _, g in bars))
            present = sorted({i for _, i, _, _ in bars})  # runs that have this suite
            width = 0.8 / len(present)
            for variant, i, est, group in bars:
                slot = present.index(i)
                x = names.index(_bar_name(variant, group)) - 0.4 + width * (slot + 0.5)
                low = est.value - est.low if est.low is not None else 0.0
                high = est.high - est.value if est.high is not None else 0.0
                ax.bar(
                    x,
                    est.value,
                    width * 0.9,
                    color=colour(variant, variants),
                    hatch=RUN_HATCHES[i % len(RUN_HATCHES)],
                    edgecolor="black",
                    linewidth=0.5,
                    yerr=[[low], [high]],
                    capsize=3,
                )
                ax.annotate(
                    f"{est.value:.2f}×",
                    (x, est.value + high),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
            ax.axhline(1.0, color="black", linewidth=0.6, linestyle="--")
            ax.set_xticks(range(len(names)), names)
            ax.set_title(suite)
            ax.set_ylabel("speedup vs reference (×)")
            ax.margins(y=0.15)
        _run_legend(fig, runs)
        return save(fig, out_dir, "speedup")


def _bar_name(variant: str, group: str | None) -> str:
    return variant if group is None else f"{variant}\n{group}"


def _run_legend(fig, runs: list[Run]) -> None:
    """Legend mapping hatches to runs (only when several runs are compared)."""
    if len(runs) < 2:
        return
    from matplotlib.patches import Patch

    handles = [
        Patch(
            facecolor="white",
            edgecolor="black",
            hatch=RUN_HATCHES[i % len(RUN_HATCHES)],
            label=run.label,
        )
        for i, run in enumerate(runs)
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(runs)))


def frontier_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Headline quality against NFE per image (log axis), one panel per image suite."""
    runs = as_runs(run_dirs)
    panels = []
    for suite in _suites(runs):
        series = []
        for i, run in enumerate(runs):
            points, names = [], []
            for variant in run.variants(suite):
                v = data.variant_view(run, suite, variant)
                if v.nfe_mean and v.score is not None:
                    points.append((v.nfe_mean, v.score.value, variant))
                    names.append(v.score_name)
            if points:
                series.append((i, run, names[0], sorted(points)))
        if series:
            panels.append((suite, series))
    if not panels:
        raise NoData("no variant has both an NFE count and a quality score")
    variants = _all_variants(runs)
    markers = ("o", "s", "^", "D", "v", "P")
    with style():
        fig = new_figure(2.8 * len(panels) + 0.4, 2.8)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (suite, series) in zip(axes, panels, strict=True):
            for i, run, _, points in series:
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                ax.plot(
                    xs,
                    ys,
                    color="black",
                    linewidth=0.6,
                    alpha=0.5,
                    linestyle=("-", "--", ":", "-.")[i % 4],
                    label=run.label,
                )
                for x, y, variant in points:
                    ax.scatter(
                        [x],
                        [y],
                        color=colour(variant, variants),
                        zorder=3,
                        marker=markers[i % len(markers)],
                        edgecolor="black",
                        linewidth=0.4,
                    )
                    ax.annotate(
                        variant, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7
                    )
            ax.set_xscale("log")
            # plain numbers: the default log labels are mathtext, which STYLE turns off
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("NFE per image (log)")
            ax.set_ylabel(f"{suite} {series[0][2]}")
            ax.set_title(suite)
            ax.margins(x=0.2, y=0.15)
        if len(runs) > 1:
            handles = [
                Line2D(
                    [],
                    [],
                    color="black",
                    linestyle=("-", "--", ":", "-.")[i % 4],
                    marker=markers[i % len(markers)],
                    label=run.label,
                )
                for i, run in enumerate(runs)
            ]
            fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(runs)))
        return save(fig, out_dir, "frontier")


def acceptance_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Histogram of per-sample acceptance length tau, and mean acceptance per draft position."""
    runs = as_runs(run_dirs)
    hist, pos = [], []
    for suite in text_suites(runs):
        for i, run in enumerate(runs):
            for variant in run.variants(suite):
                taus = text.acceptance_lengths(run, suite, variant)
                if taus:
                    hist.append((suite, i, run, variant, taus))
                rates = text.acceptance_per_position(run, suite, variant)
                if rates:
                    pos.append((suite, i, run, variant, rates))
    if not hist and not pos:
        raise NoData("no record has acceptance_length or accept_per_position")
    variants = _all_variants(runs)
    multi = len(runs) > 1 or len({h[0] for h in hist + pos}) > 1

    def label(suite: str, run: Run, variant: str) -> str:
        return f"{variant} ({suite}, {run.label})" if multi else variant

    with style():
        fig = new_figure(6.4, 2.6)
        ax_h, ax_p = fig.subplots(1, 2)
        values = [t for h in hist for t in h[4]]
        top = max(values) if values else 1.0
        bins = np.linspace(1.0, max(2.0, np.ceil(top)), 21)
        for suite, i, run, variant, taus in hist:
            ax_h.hist(
                taus,
                bins=bins,
                histtype="step",
                linewidth=1.2,
                linestyle=("-", "--", ":", "-.")[i % 4],
                color=colour(variant, variants),
                label=label(suite, run, variant),
            )
        ax_h.set_xlabel("acceptance length τ (tokens / target forward)")
        ax_h.set_ylabel("samples")
        ax_h.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax_p.xaxis.set_major_locator(MaxNLocator(integer=True))
        for suite, i, run, variant, rates in pos:
            ks = np.arange(1, len(rates) + 1)
            ax_p.plot(
                ks,
                [r for r, _ in rates],
                marker="o",
                markersize=3,
                linestyle=("-", "--", ":", "-.")[i % 4],
                color=colour(variant, variants),
                label=label(suite, run, variant),
            )
        ax_p.set_xlabel("draft position")
        ax_p.set_ylabel("acceptance rate")
        ax_p.set_ylim(0.0, 1.05)
        for ax, have in ((ax_h, hist), (ax_p, pos)):
            if have:
                ax.legend(loc="best")
            else:
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
        return save(fig, out_dir, "acceptance")


def latency_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Mean time per sample stacked as model forwards + harness overhead, one panel per suite."""
    runs = as_runs(run_dirs)
    panels = []
    for suite in _suites(runs):
        bars = [
            (run, row) for run in runs if suite in run.suites() for row in latency_rows(run, suite)
        ]
        if bars:
            panels.append((suite, bars))
    if not panels:
        raise NoData("no record has profile seconds")
    variants = _all_variants(runs)
    heights = [0.9 + 0.22 * len(b) for _, b in panels]
    with style():
        fig = new_figure(6.4, sum(heights) + 0.4)
        axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
        for ax, (suite, bars) in zip(axes, panels, strict=True):
            labels = []
            for y, (run, (group, variant, model, overhead, _, _)) in enumerate(bars):
                c = colour(variant, variants)
                ax.barh(y, model, color=c, edgecolor="black", linewidth=0.4)
                ax.barh(
                    y,
                    overhead,
                    left=model,
                    color=c,
                    alpha=0.35,
                    hatch="//",
                    edgecolor="black",
                    linewidth=0.4,
                )
                parts = [group] if group != "all" else []
                parts += [variant] + ([run.label] if len(runs) > 1 else [])
                labels.append(" · ".join(parts))
            ax.set_yticks(range(len(bars)), labels)
            ax.invert_yaxis()
            ax.set_title(f"{suite}: model (solid) + overhead (hatched)")
            ax.set_xlabel("mean seconds per sample")
        return save(fig, out_dir, "latency")

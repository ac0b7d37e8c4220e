"""Report figures: speedups and acceptance here; frontiers in :mod:`.figure_frontier`,
latency by stage in :mod:`.figure_latency`.

Each function takes run directories (or loaded runs) and an output directory, writes
``figures/<name>.png`` and ``.pdf`` at a paper width (:data:`FIGURE_WIDTHS`), and returns
the PNG path; it raises :class:`NoData` when the runs hold nothing to plot. Bounds
(oracles, see :mod:`.roles`) get no speedup; each variant keeps one colour everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

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
from .tables_quality import text_suites

RunDirs = Sequence[Run | str | PathLike[str]]

# Declared print width of every figure (inches); tests check the PDFs against it.
FIGURE_WIDTHS: dict[str, float] = {
    "speedup": TWO_COLUMN,
    "frontier": TWO_COLUMN,
    "acceptance": ONE_COLUMN,
    "latency": TWO_COLUMN,
}


def suites_of(runs: list[Run]) -> list[str]:
    """Every suite of the runs, sorted."""
    return sorted({s for r in runs for s in r.suites()})


def all_variants(runs: list[Run], suite: str | None = None) -> list[str]:
    """Variants in the runs' declared order: the order that fixes unknown variants' colours."""
    out: list[str] = []
    for run in runs:
        names = {v for s in ([suite] if suite else run.suites()) for v in run.variants(s)}
        out += [v for v in roles.in_run_order(run, names) if v not in out]
    return out


def plain_log_axis(axis) -> None:
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
    for suite in suites_of(runs):
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
    variants = all_variants(runs)
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
        plain_log_axis(ax.xaxis)
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
        handles += run_handles(runs)
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)))
        return save(fig, out_dir, "speedup")


def run_handles(runs: list[Run]) -> list[Line2D]:
    """Legend entries mapping marker / line style to runs (only with several runs)."""
    if len(runs) < 2:
        return []
    return [
        Line2D([], [], color="black", marker=RUN_MARKERS[i % len(RUN_MARKERS)],
               linestyle=RUN_LINESTYLES[i % len(RUN_LINESTYLES)], label=run.label)
        for i, run in enumerate(runs)
    ]  # fmt: skip


def acceptance_figure(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """One column, two panels: the per-sample acceptance length τ of each speculative
    variant, and its acceptance rate per draft position (n = samples at position 1).
    Colour = variant, line style = suite; with several runs, marker and shade = run."""
    runs = as_runs(run_dirs)
    hist, pos = [], []
    suites = text_suites(runs) or suites_of(runs)
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
    variants = all_variants(runs)

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
        handles = run_handles(runs)
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncols=1)
        return save(fig, out_dir, "acceptance")

"""The quality-vs-cost frontier figure: headline score against NFE or seconds per sample.

Written like every figure of :mod:`.figures` (its widths, colours and run handles).
"""

from __future__ import annotations

import math
from os import PathLike
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from hbench.harness import statistics as st

from . import data, roles
from .figure_io import (
    RUN_LINESTYLES,
    RUN_MARKERS,
    as_runs,
    colour,
    new_figure,
    save,
    style,
)
from .figures import (
    FIGURE_WIDTHS,
    RunDirs,
    all_variants,
    plain_log_axis,
    run_handles,
    suites_of,
)
from .run import NoData, Run


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
    for suite in suites_of(runs):
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
    variants = all_variants(runs)
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
                plain_log_axis(ax.xaxis)
                ax.set_xlabel(xlabel)
                name = series[0][4][0]
                ax.set_ylabel(f"{suite} {name}")
                ax.margins(x=0.25, y=0.12)
        handles = [Line2D([], [], color="#444444", linewidth=0.8, label="non-dominated frontier")]
        handles += run_handles(runs)
        fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)))
        return save(fig, out_dir, "frontier")

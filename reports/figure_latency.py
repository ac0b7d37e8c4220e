"""The latency figure: mean seconds per sample stacked by stage, one panel per workload.

Written like every figure of :mod:`.figures` (its widths, colours and run handles).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from . import data, roles
from .figure_io import (
    as_runs,
    new_figure,
    save,
    style,
)
from .figures import (
    FIGURE_WIDTHS,
    RunDirs,
    suites_of,
)
from .run import NoData
from .table import fmt_seconds

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
    suites = ["latency"] if any("latency" in r.suites() for r in runs) else suites_of(runs)
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

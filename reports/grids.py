"""Image grids: the same prompt and seed through every variant (baseline | 6-NFE | 1-NFE).

Any suite whose records carry ``output.image`` gets a grid; an ``output.source_image``
(editing) adds a source column, and the row text is ``output.prompt`` or
``output.instruction``. Image paths are resolved inside the run directory only.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from . import roles
from .data import group_of
from .figure_io import TWO_COLUMN, as_runs, save, style
from .figures import RunDirs
from .run import NoData, Run, RunStoreError
from .table import Table

GRID_SAMPLES = 6  # rows per run
TEXT_FIELDS = ("prompt", "instruction")


@dataclass(frozen=True)
class GridRow:
    """One row of a grid: a sample of one run and its images per column."""

    run: Run
    sample: str
    seed: Any
    text: str
    images: dict[str, str]  # column name -> path relative to the run
    group: str = "all"  # GenEval tag / GEdit task type


def image_suites(runs: list[Run]) -> list[str]:
    """Suites with at least one record carrying ``output.image``."""
    return sorted(
        {r["suite"] for run in runs for r in run.records if (r.get("output") or {}).get("image")}
    )


def _record_text(record: dict[str, Any]) -> str:
    output = record.get("output") or {}
    for name in TEXT_FIELDS:
        if isinstance(output.get(name), str):
            return output[name]
    return ""


def grid_rows(
    runs: list[Run], suite: str, limit: int = GRID_SAMPLES
) -> tuple[list[str], list[GridRow]]:
    """Columns and rows of ``suite``'s grid: the first ``limit`` samples (by id) the
    reference has an image for, the same sample ids in every run."""
    columns: list[str] = []
    rows: list[GridRow] = []
    chosen: list[tuple[str, Any]] | None = None
    for run in runs:
        by_key: dict[tuple[str, Any], dict[str, str]] = {}
        texts: dict[tuple[str, Any], str] = {}
        groups: dict[tuple[str, Any], str] = {}
        for variant in run.variants(suite):
            for r in run.ok_records(suite, variant):
                output = r.get("output") or {}
                if not output.get("image"):
                    continue
                key = (str(r["sample"]), r.get("seed"))
                cells = by_key.setdefault(key, {})
                if output.get("source_image"):
                    cells.setdefault("source", output["source_image"])
                cells[variant] = output["image"]
                if variant == run.reference or key not in texts:
                    texts[key] = _record_text(r)
                    groups[key] = group_of(r, suite, run)
        if chosen is None:
            keys = [k for k in sorted(by_key, key=str) if run.reference in by_key[k]]
            chosen = _spread(keys, groups, limit)
        for key in [k for k in chosen if k in by_key]:
            for name in by_key[key]:
                if name not in columns:
                    columns.append(name)
            rows.append(
                GridRow(
                    run, key[0], key[1], texts.get(key, ""), by_key[key], groups.get(key, "all")
                )
            )
    order = ["source", *[v for r in runs for v in roles.in_run_order(r, r.variants(suite))]]
    columns = sorted(columns, key=order.index)
    return columns, rows


def _spread(keys: list[Any], groups: dict[Any, str], limit: int) -> list[Any]:
    """Up to ``limit`` keys taken round-robin over the groups (one GenEval tag each first)."""
    by_group: dict[str, list[Any]] = {}
    for key in keys:
        by_group.setdefault(groups.get(key, ""), []).append(key)
    queues = [by_group[g] for g in sorted(by_group)]
    chosen: list[Any] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    return sorted(chosen, key=lambda k: (groups.get(k, ""), str(k)))


def _load(run: Run, relative: str) -> np.ndarray | None:
    try:
        with Image.open(run.file(relative)) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, RunStoreError):
        return None


GRID_WIDTH = TWO_COLUMN  # inches: the PDF's width, whatever the number of variants


def image_grid(run_dirs: RunDirs, out_dir: str | PathLike[str], suite: str) -> Path:
    """Grid of ``suite``'s images: one row per sample (and run), one column per variant.

    Raises:
        NoData: if no record of ``suite`` has an image of the reference variant.
    """
    runs = as_runs(run_dirs)
    columns, rows = grid_rows(runs, suite)
    if not rows:
        raise NoData(f"no {suite} image of the reference variant")
    # a two-column paper figure: the text column is fixed, the image cells share the rest
    text_w, head = 1.9, 0.3  # inches
    width = GRID_WIDTH
    cell = min(1.0, (width - text_w) / len(columns))
    height = head + cell * len(rows)
    with style():
        # a fixed grid, not constrained layout: laying out dozens of image axes is slow
        fig = Figure(figsize=(width, height))
        axes = fig.subplots(
            len(rows),
            1 + len(columns),
            squeeze=False,
            gridspec_kw={
                "width_ratios": [text_w] + [cell] * len(columns),
                "left": 0.01,
                "right": 0.99,
                "bottom": 0.04 / height,
                "top": 1 - head / height,
                "wspace": 0.06,
                "hspace": 0.08,
            },
        )
        for i, row in enumerate(rows):
            head = [row.sample, f"seed {row.seed}"]
            head += [row.group] if row.group not in ("all", row.sample.rsplit("-", 1)[0]) else []
            head += [row.run.label] if len(runs) > 1 else []
            label = "\n".join(h if len(h) <= 32 else h[:31] + "…" for h in head)
            wrapped = textwrap.wrap(row.text, 32, max_lines=4, placeholder=" …")
            axes[i, 0].axis("off")
            axes[i, 0].text(
                0.0,
                0.5,
                "\n".join([label, *wrapped]),
                va="center",
                ha="left",
                fontsize=7,
                transform=axes[i, 0].transAxes,
                wrap=False,
            )
            for j, name in enumerate(columns, start=1):
                ax = axes[i, j]
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_linewidth(0.5)
                pixels = _load(row.run, row.images[name]) if name in row.images else None
                if pixels is None:
                    ax.text(
                        0.5,
                        0.5,
                        "missing",
                        ha="center",
                        va="center",
                        fontsize=7,
                        transform=ax.transAxes,
                    )
                else:
                    ax.imshow(pixels, interpolation="nearest")
                if i == 0:
                    ax.set_title(name)
        return save(fig, out_dir, f"grid_{suite}")


def grid_table(runs: list[Run], suite: str) -> Table:
    """The grid's samples with their full prompt / instruction text (for HTML and Markdown)."""
    _, rows = grid_rows(runs, suite)
    if not rows:
        raise NoData(f"no {suite} image of the reference variant")
    multi = len(runs) > 1
    columns = ("Sample", *(("Run",) if multi else ()), "Seed", "Prompt / instruction")
    body = tuple((r.sample, *((r.run.label,) if multi else ()), str(r.seed), r.text) for r in rows)
    return Table(
        f"grid_{suite}",
        f"{suite}: samples shown in the image grid",
        columns,
        body,
        align=("l",) * len(columns),
    )

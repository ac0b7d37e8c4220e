"""Deterministic matplotlib figures: a fixed style, no pyplot state, PNG and PDF without dates.

Figures are built with :class:`matplotlib.figure.Figure` directly, so no global backend is
selected (savefig renders with Agg for PNG and the PDF backend for PDF). The style starts
from matplotlib's defaults, ignoring any user matplotlibrc, so the same data always give
the same bytes on one matplotlib version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from .run import Run, load_runs

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "pdf.fonttype": 42,  # TrueType in the PDF: editable text for paper figures
    "svg.hashsalt": "hbench",
    "text.parse_math": False,  # dataset text with $ must not become mathtext
    "text.usetex": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}

# Fixed colours so a variant looks the same in every figure and every report.
KNOWN_COLOURS = {
    "baseline": "#7f7f7f",
    "nfe6": "#1f77b4",
    "nfe1": "#ff7f0e",
    "spec": "#2ca02c",
}
OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#d62728")
RUN_HATCHES = ("", "//", "..", "xx", "\\\\", "oo")


def colour(variant: str, variants: Sequence[str]) -> str:
    """The colour of ``variant``; unknown variants take a palette colour by their position."""
    if variant in KNOWN_COLOURS:
        return KNOWN_COLOURS[variant]
    others = [v for v in variants if v not in KNOWN_COLOURS]
    index = others.index(variant) if variant in others else len(others)
    return OTHER_COLOURS[index % len(OTHER_COLOURS)]


@contextlib.contextmanager
def style() -> Iterator[None]:
    """matplotlib defaults plus :data:`STYLE`, restored on exit."""
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(STYLE)
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure of the given size in inches (call inside :func:`style`)."""
    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, out_dir: str | PathLike[str], name: str) -> Path:
    """Write ``figures/<name>.png`` and ``figures/<name>.pdf``; returns the PNG path."""
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{name}.png"
    fig.savefig(png, format="png", metadata=PNG_METADATA)
    fig.savefig(folder / f"{name}.pdf", format="pdf", metadata=PDF_METADATA)
    return png


def as_runs(run_dirs: Sequence[Run | str | PathLike[str]]) -> list[Run]:
    """Runs from run directories (already loaded runs pass through)."""
    if all(isinstance(r, Run) for r in run_dirs):
        return list(run_dirs)  # type: ignore[arg-type]
    if any(isinstance(r, Run) for r in run_dirs):
        raise TypeError("pass either run directories or loaded runs, not a mix")
    return load_runs(list(run_dirs))  # type: ignore[arg-type]

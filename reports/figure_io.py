"""Deterministic matplotlib figures: a fixed style, no pyplot state, PNG and PDF without dates.

Figures are built with :class:`matplotlib.figure.Figure` directly, so no global backend is
selected (savefig renders with Agg for PNG and the PDF backend for PDF). The style starts
from matplotlib's defaults, ignoring any user matplotlibrc, so the same data always give
the same bytes on one matplotlib version.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from .run import Run, load_runs

# Print sizes (inches) of a one-column and a two-column figure in a two-column paper.
ONE_COLUMN, TWO_COLUMN = 3.3, 6.9

# Fonts are sized for print: figures are drawn at their final size, so 7-8 pt here is
# 7-8 pt on paper (no figure is scaled down by the page layout).
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.0,
    "legend.frameon": False,
    "pdf.fonttype": 42,  # TrueType, embedded: editable text and no Type 3 fonts in papers
    "ps.fonttype": 42,
    "svg.hashsalt": "hbench",
    "text.parse_math": False,  # dataset text with $ must not become mathtext
    "text.usetex": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# Named styles: "screen" (the HTML report) and "paper" (print resolution PNG); both draw
# at print size, so the PDF is the same figure.
STYLES: dict[str, dict[str, object]] = {
    "screen": {},
    "paper": {"savefig.dpi": 300},
}
FONT_MIN_PT = 7
_ACTIVE_STYLE: contextvars.ContextVar[str] = contextvars.ContextVar("style", default="screen")
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None}

# Okabe-Ito (colour-blind safe). Known variants keep a fixed colour in every figure and
# report; others take the remaining colours in the order the runs list them.
KNOWN_COLOURS = {
    "baseline": "#000000",
    "oracle": "#999999",
    "spec": "#009E73",
    "nfe6": "#0072B2",
    "nfe1": "#D55E00",
    "euler6": "#E69F00",
}
OTHER_COLOURS = ("#56B4E9", "#CC79A7", "#F0E442", "#882255", "#44AA99", "#117733")
RUN_HATCHES = ("", "//", "..", "xx", "\\\\", "oo")
RUN_MARKERS = ("o", "s", "^", "D", "v", "P")
RUN_LINESTYLES = ("-", "--", ":", "-.")


def colour(variant: str, variants: Sequence[str]) -> str:
    """The colour of ``variant``; unknown variants take a palette colour by their position."""
    if variant in KNOWN_COLOURS:
        return KNOWN_COLOURS[variant]
    others = [v for v in variants if v not in KNOWN_COLOURS]
    index = others.index(variant) if variant in others else len(others)
    return OTHER_COLOURS[index % len(OTHER_COLOURS)]


@contextlib.contextmanager
def use_style(name: str) -> Iterator[None]:
    """Draw the figures made inside this block in style ``name`` (see :data:`STYLES`)."""
    if name not in STYLES:
        raise ValueError(f"unknown figure style {name!r}; known: {', '.join(sorted(STYLES))}")
    token = _ACTIVE_STYLE.set(name)
    try:
        yield
    finally:
        _ACTIVE_STYLE.reset(token)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """matplotlib defaults plus :data:`STYLE` and the active named style, restored on exit."""
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(STYLE)
        mpl.rcParams.update(STYLES[_ACTIVE_STYLE.get()])
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure of the given size in inches (call inside :func:`style`); ``width`` should be
    :data:`ONE_COLUMN` or :data:`TWO_COLUMN` for paper figures. The saved PDF has exactly
    this size (no tight bounding box), so a paper can include it at 100%."""
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

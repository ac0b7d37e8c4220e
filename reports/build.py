"""``hbench report``: every artifact of a report in one pass over the runs."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from .figure_io import use_style
from .figures import RunDirs
from .html import write_html
from .markdown import write_latex, write_markdown
from .model import Options, build


def build_report(
    run_dirs: RunDirs,
    out_dir: str | PathLike[str],
    options: Options = Options(),
    figures_only: bool = False,
    style: str = "screen",
) -> Path:
    """Write the HTML page, Markdown summary, PNG/PDF figures and LaTeX tables.

    Layout of ``out_dir``: ``index.html`` (self-contained), ``summary.md``,
    ``figures/<name>.png`` + ``.pdf``, ``tables/<key>.tex``. The same runs always give the
    same bytes (no timestamps are written; figures carry no dates).

    Args:
        run_dirs: one or more run directories, shown side by side (two: with the
            before/after table).
        out_dir: output directory (created).
        options: a claims file and other additions (:class:`.model.Options`).
        figures_only: write only ``figures/`` (no HTML, Markdown or LaTeX).
        style: figure style, ``"screen"`` or ``"paper"`` (:data:`.figure_io.STYLES`).

    Returns:
        The path of ``index.html``, or of ``figures/`` with ``figures_only``.
    """
    with use_style(style):
        report = build(run_dirs, out_dir, options, figures_only=figures_only)
    if figures_only:
        return report.out_dir / "figures"
    write_markdown(report)
    write_latex(report)
    return write_html(report)

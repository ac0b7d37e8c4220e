"""``hbench report``: every artifact of a report in one pass over the runs."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from .figures import RunDirs
from .html import write_html
from .markdown import write_latex, write_markdown
from .model import build


def build_report(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Write the HTML page, Markdown summary, PNG/PDF figures and LaTeX tables.

    Layout of ``out_dir``: ``index.html`` (self-contained), ``summary.md``,
    ``figures/<name>.png`` + ``.pdf``, ``tables/<key>.tex``. The same runs always give the
    same bytes (no timestamps are written; figures carry no dates).

    Args:
        run_dirs: one or more run directories, shown side by side.
        out_dir: output directory (created).

    Returns:
        The path of ``index.html``.
    """
    report = build(run_dirs, out_dir)
    write_markdown(report)
    write_latex(report)
    return write_html(report)

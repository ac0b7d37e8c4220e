"""The Markdown summary and the LaTeX table files, rendered from the report model."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from .figures import RunDirs
from .model import Report, build
from .table import Table, escape_markdown, to_latex, to_markdown
from .tables import DEFINITIONS


def render_markdown(report: Report) -> str:
    """The report as Markdown: tables inline, figures linked as relative PNG paths."""
    lines = [f"# {escape_markdown(report.title, block=True)}", ""]
    for section in report.sections:
        lines += [f"## {escape_markdown(section.title, block=True)}", ""]
        for item in section.items:
            if isinstance(item, Table):
                lines += [to_markdown(item)]
            else:
                png = item.png.relative_to(report.out_dir).as_posix()
                pdf = item.pdf.relative_to(report.out_dir).as_posix()
                lines += [
                    f"![{escape_markdown(item.title)}]({png})",
                    "",
                    f"*{escape_markdown(item.title)}.* {escape_markdown(item.caption)} "
                    f"([PDF]({pdf}))",
                    "",
                ]
        if section.absent:
            lines += ["Not shown (absent from the runs):", ""]
            lines += [f"- {escape_markdown(a)}" for a in section.absent]
            lines.append("")
    lines += ["## Definitions", ""]
    lines += [f"- {escape_markdown(d)}" for d in DEFINITIONS]
    return "\n".join(lines) + "\n"


def write_markdown(report: Report, name: str = "summary.md") -> Path:
    """Write the Markdown summary into the report's output directory; returns its path."""
    path = report.out_dir / name
    path.write_text(render_markdown(report), encoding="utf-8")
    return path


def write_latex(report: Report) -> Path:
    """Write every table as ``tables/<key>.tex`` (booktabs); returns the folder."""
    folder = report.out_dir / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    for table in report.tables:
        (folder / f"{table.key}.tex").write_text(to_latex(table), encoding="utf-8")
    return folder


def markdown_summary(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Build the report for ``run_dirs`` and write ``summary.md``."""
    return write_markdown(build(run_dirs, out_dir))


def latex_tables(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Build the report for ``run_dirs`` and write its LaTeX tables; returns ``tables/``."""
    return write_latex(build(run_dirs, out_dir))

"""The report model: sections of tables and figures built once from the runs, rendered by
the HTML, Markdown and LaTeX writers. Artifacts with nothing to show are listed as absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from . import (
    claims_table,
    compare,
    figure_frontier,
    figure_latency,
    figures,
    grids,
    tables,
    tables_quality,
    verdict,
)
from .figure_io import as_runs
from .figures import RunDirs
from .run import NoData, Run
from .table import Table


@dataclass(frozen=True)
class FigureRef:
    """A written figure: PNG path (PDF beside it), title and caption."""

    key: str
    title: str
    caption: str
    png: Path

    @property
    def pdf(self) -> Path:
        """The PDF written beside the PNG."""
        return self.png.with_suffix(".pdf")


@dataclass
class Section:
    """A titled group of tables and figures, with the artifacts that had no data."""

    key: str
    title: str
    items: list[Table | FigureRef] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """Everything a writer needs: the runs and the built sections."""

    runs: list[Run]
    sections: list[Section]
    out_dir: Path

    @property
    def tables(self) -> list[Table]:
        """Every table of every section, in order."""
        return [t for s in self.sections for t in s.items if isinstance(t, Table)]

    @property
    def figures(self) -> list[FigureRef]:
        """Every figure of every section, in order."""
        return [f for s in self.sections for f in s.items if isinstance(f, FigureRef)]

    @property
    def title(self) -> str:
        """Page title naming the runs."""
        return "hbench report: " + ", ".join(r.label for r in self.runs)


TableStep = Callable[[list[Run]], Table | list[Table]]
FigureStep = tuple[str, str, str, Callable[[list[Run], Path], Path]]  # key, title, caption, fn

FIGURE_CAPTIONS = {
    "speedup": "Median paired speedup of each accelerated variant against the reference with "
    "its 95% bootstrap interval (log scale; the vertical line is 1×, no speedup). A grey tick "
    "marks the limit of the variant's cut in generator work: the NFE ratio, or the ratio of "
    "batch-merged calls when that is larger (the most an NFE cut alone can give when the "
    "generator's forwards are all the time). Bounds (oracles) are left out.",
    "frontier": "Headline quality (unweighted mean over groups, stratified 95% bootstrap "
    "interval) against NFE per image and against median seconds per sample (95% bootstrap "
    "interval), log scales. The line joins only the non-dominated variants; a dotted line "
    "marks a bound (oracle).",
    "latency": "Mean milliseconds per sample stacked by stage: prefill, draft, verify, decode "
    "(text, as the runtime reports them); seconds inside each hooked network (images); glue = "
    "the rest of the timed call.",
    "acceptance": "Top: per-sample acceptance length τ of each speculative variant. Bottom: "
    "mean acceptance rate per draft position, among rounds where every earlier draft was "
    "accepted (n = samples).",
}


def _figure(key: str, title: str, fn: Callable[[list[Run], Path], Path]) -> FigureStep:
    return key, title, FIGURE_CAPTIONS[key], fn


@dataclass(frozen=True)
class Options:
    """What to build besides the default report.

    Attributes:
        claims: a claims file (``hbench gate``'s format): adds its table to the verdict
            section and gives the verdict its non-inferiority margins.
    """

    claims: str | None = None


def _verdict_steps(runs: list[Run], options: Options) -> list[TableStep | FigureStep]:
    margins = None
    extra: list[TableStep | FigureStep] = []
    if options.claims:
        claims_file = claims_table.load(options.claims)
        margins = verdict.margins_from_claims(claims_file)

        def claims(rs: list[Run]) -> Table:
            return claims_table.claims_table(rs, claims_file)

        extra.append(claims)
    if len(runs) == 2:
        extra.append(compare.delta_table)

    def verdict_table(rs: list[Run]) -> Table:
        return verdict.verdict_table(rs, margins)

    return [verdict_table, *extra]


def _layout(
    runs: list[Run], options: Options = Options()
) -> list[tuple[str, str, list[TableStep | FigureStep]]]:
    """Sections in order: (key, title, steps). The verdict comes first; image grids follow
    the suites that have images."""
    steps = [
        ("verdict", "Verdict", _verdict_steps(runs, options)),
        ("runs", "Runs", [tables.runs_table]),
        ("summary", "Summary", [tables.summary_table]),
        (
            "speed",
            "Speed",
            [
                tables.speedup_table,
                _figure("speedup", "Speedup per suite", figures.speedup_figure),
                tables.latency_table,
                _figure("latency", "Latency breakdown", figure_latency.latency_figure),
            ],
        ),
        (
            "frontier",
            "Quality against NFE",
            [
                _figure("frontier", "Quality vs NFE frontier", figure_frontier.frontier_figure),
            ],
        ),
        *(
            (suite, suite, [lambda rs, s=suite: tables_quality.suite_group_tables(rs, s)])
            for suite in tables_quality.grouped_suites(runs)
        ),
        (
            "text",
            "Understanding: lossless decoding and acceptance",
            [
                tables_quality.exact_match_table,
                tables_quality.divergence_table,
                _figure("acceptance", "Acceptance length", figures.acceptance_figure),
            ],
        ),
    ]
    grid_steps: list[TableStep | FigureStep] = []
    for suite in grids.image_suites(runs):  # suites with images, whatever they are named
        grid_steps.append(_grid_figure(suite))
        grid_steps.append(lambda rs, s=suite: grids.grid_table(rs, s))
    steps.append(("grids", "Image grids (same prompt and seed)", grid_steps))
    return steps


def _grid_figure(suite: str) -> FigureStep:
    caption = (
        f"{suite}: the same prompt and seed through every variant; text: the prompt or "
        "instruction (full text in the table below)."
    )
    return (
        f"grid_{suite}",
        f"{suite} image grid",
        caption,
        lambda runs, out, s=suite: grids.image_grid(runs, out, s),
    )


def build(
    run_dirs: RunDirs,
    out_dir: str | PathLike[str],
    options: Options = Options(),
    figures_only: bool = False,
) -> Report:
    """Build every table and write every figure of the report for ``run_dirs``.

    Args:
        run_dirs: run directories (or loaded runs) to report side by side.
        out_dir: where figures are written (``figures/``).
        options: claims file and other additions (see :class:`Options`).
        figures_only: build the figures only (no tables).

    Returns:
        The report model; artifacts with no data are listed in each section's ``absent``.
    """
    runs = as_runs(run_dirs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for key, title, steps in _layout(runs, options):
        section = Section(key, title)
        for step in steps:
            if figures_only and not isinstance(step, tuple):
                continue
            try:
                if isinstance(step, tuple):
                    fkey, ftitle, caption, fn = step
                    section.items.append(FigureRef(fkey, ftitle, caption, fn(runs, out)))
                else:
                    made = step(runs)
                    section.items += made if isinstance(made, list) else [made]
            except NoData as why:
                name = step[1] if isinstance(step, tuple) else _step_name(step)
                section.absent.append(f"{name}: {why}")
        sections.append(section)
    return Report(runs, sections, out)


def _step_name(step: Callable) -> str:
    name = getattr(step, "__name__", "table")
    return "image grid table" if name == "<lambda>" else name.replace("_", " ")

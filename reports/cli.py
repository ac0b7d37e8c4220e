"""``hbench report RUN [RUN ...] --out DIR``: render a report from run directories."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hbench.harness.messages import print_error

from .build import build_report
from .figure_io import STYLES
from .model import Options
from .run import RunStoreError
from .summary import summary_text


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``hbench report``."""
    p = argparse.ArgumentParser(
        prog="hbench report",
        description="Render HTML, Markdown, PNG/PDF figures and LaTeX tables from run "
        "directories. Reports read the run store only; they never run a model.",
        epilog="examples:\n  hbench report runs/demo --out reports/demo\n"
        "  hbench report runs/a runs/b --out reports/a-vs-b   # before -> after\n"
        "  hbench report runs/demo --claims claims/shapes.yaml\n"
        "  hbench report runs/demo --figures-only --style paper\n"
        "  hbench report runs/demo --summary                  # plain text to stdout",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (several: side by side)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output directory (created; default: RUN/report, or with two runs "
        "RUN_NEW/report-vs-<RUN_OLD name>)",
    )
    p.add_argument(
        "--claims",
        metavar="FILE",
        help="a claims file (hbench gate's format): adds the claims table, decided by the "
        "gate's checks, and takes the verdict's non-inferiority margins from it",
    )
    p.add_argument(
        "--figures-only",
        action="store_true",
        help="write only the PNG/PDF figures (no HTML, Markdown or LaTeX)",
    )
    p.add_argument(
        "--style",
        choices=sorted(STYLES),
        default="screen",
        help="figure style: screen (150 dpi PNG) or paper (300 dpi PNG); both draw at "
        "one-column (3.3 in) / two-column (6.9 in) print size with embedded TrueType fonts",
    )
    p.add_argument(
        "--summary",
        action="store_true",
        help="print the plain-text summary of each run instead of (or as well as) writing files",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 on usage or run-store errors)."""
    args = parser().parse_args(argv)
    if not args.out and not args.summary:
        if len(args.runs) > 2:
            parser().error("more than two runs need --out DIR")
        if len(args.runs) == 2:  # before -> after: written beside the newer run
            args.out = str(Path(args.runs[1]) / f"report-vs-{Path(args.runs[0]).resolve().name}")
        else:
            args.out = str(Path(args.runs[0]) / "report")
    try:
        if args.summary:
            for run in args.runs:
                sys.stdout.write(summary_text(run, claims=args.claims) + "\n")
        if args.out:
            options = Options(claims=args.claims)
            index = build_report(args.runs, args.out, options, args.figures_only, args.style)
            what = "figures" if args.figures_only else "report"
            sys.stdout.write(f"{what} written: {index}\n")
    except RunStoreError as err:
        print_error(err)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

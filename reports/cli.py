"""``hbench report RUN [RUN ...] --out DIR``: render a report from run directories."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hbench.harness.messages import print_error

from .build import build_report
from .run import RunStoreError
from .summary import summary_text


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``hbench report``."""
    p = argparse.ArgumentParser(
        prog="hbench report",
        description="Render HTML, Markdown, PNG/PDF figures and LaTeX tables from run "
        "directories. Reports read the run store only; they never run a model.",
        epilog="examples:\n  hbench report runs/demo --out reports/demo\n"
        "  hbench report runs/a runs/b --out reports/a-vs-b   # side by side\n"
        "  hbench report runs/demo --summary                  # plain text to stdout",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (several: side by side)")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output directory (created; default with one run: RUN/report)",
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
        if len(args.runs) > 1:
            parser().error("several runs need --out DIR")
        args.out = str(Path(args.runs[0]) / "report")
    try:
        if args.summary:
            for run in args.runs:
                sys.stdout.write(summary_text(run) + "\n")
        if args.out:
            index = build_report(args.runs, args.out)
            sys.stdout.write(f"report written: {index}\n")
    except RunStoreError as err:
        print_error(err)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

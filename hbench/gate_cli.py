"""``hbench gate``: the argparse front end of the claims gate; returns the exit status.

Claims are evaluated by :mod:`hbench.harness.gate` (its docstring lists the checks); this
module parses the command line, prints one line per claim and writes JUnit / Markdown.

Exit status: 0 all claims hold, 1 a claim fails, 2 the claims file or the run cannot be
used, 3 a run is unfinished (``--allow-partial`` gates it anyway), 4 no claim fails but a
sequential timing claim is inconclusive.
"""

from __future__ import annotations

import argparse

from hbench.harness.claims import ClaimsError, load_claims
from hbench.harness.gate import check_claims, exit_status
from hbench.harness.gate_precheck import precheck
from hbench.harness.messages import print_error
from hbench.harness.store import RunStoreError

from .gate_report import write_junit, write_summary


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hbench gate``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="hbench gate",
        description="Check a claims file against a finished run; exit 0 only if every claim holds.",
        epilog="example: hbench gate runs/shapes --claims claims/shapes.yaml "
        '--junit gate.xml --summary "$GITHUB_STEP_SUMMARY"',
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run directory (manifest.json, records.jsonl, scores.json); several runs may be "
        "gated together when each suite is in one of them",
    )
    parser.add_argument("--claims", help="claims YAML file (required unless --against)")
    parser.add_argument(
        "--measure",
        action="store_true",
        help="while a sequential timing claim is undecided, continue the run with one more "
        "block (repeat) and gate again, up to the claims file's max_blocks",
    )
    parser.add_argument("--config", help="with --measure: the run's config (default: manifest's)")
    parser.add_argument(
        "--against",
        metavar="OLD",
        help="instead of claims: flag significant regressions of RUN against the run OLD "
        "(samples paired by id; quality, speed and cost figures)",
    )
    parser.add_argument(
        "--tolerance",
        help="with --against: quality=0,time=0.2,cost=0 (any subset; quality in metric units, "
        "time and cost as fractions)",
    )
    parser.add_argument("--junit", help="write JUnit XML here (one test case per claim)")
    parser.add_argument("--summary", help="append a Markdown table here (GitHub step summary)")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="gate an unfinished run (otherwise exit 3 naming the missing samples)",
    )
    args = parser.parse_args(argv)
    if args.against:
        from .gate_against_cli import run_against

        if len(args.runs) != 1 or args.claims:
            parser.error("--against takes one RUN and no --claims")
        return run_against(args.runs[0], args.against, args.tolerance, args.junit, args.summary)
    if not args.claims:
        parser.error("--claims is required (or --against OLD)")
    status = precheck(args.runs, args.allow_partial)  # unfinished or damaged runs first
    if status:
        return status
    try:
        claims = load_claims(args.claims)
        if args.measure:
            from hbench.harness.gate_measure import measure_until_decided

            if len(args.runs) != 1:
                parser.error("--measure takes one RUN")
            results = measure_until_decided(claims, args.runs[0], check_claims, args.config)
        else:
            results = check_claims(claims, args.runs)
    except (ClaimsError, RunStoreError, FileNotFoundError) as err:
        print_error(err)
        return 2
    for result in results:
        print(result.line())
    status = exit_status(results)
    passed = sum(r.status == "pass" for r in results)
    print(f"{passed}/{len(results)} claims hold ({claims.source} on {', '.join(args.runs)})")
    if args.junit:
        write_junit(results, args.junit, claims.source)
    if args.summary:
        write_summary(results, args.summary, claims.source, ", ".join(args.runs))
    return status


if __name__ == "__main__":
    raise SystemExit(main())

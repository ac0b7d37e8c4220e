"""The ``hbench`` command line: a thin layer over the library.

Subcommands: ``demo``, ``run``, ``list``, ``report`` and the delegated ones in
:data:`hbench.delegated.DELEGATED` (``gate``, ``geneval``, ``gedit``, ``lm-eval``, ``metrics``,
``kernels``, ``bench``, ``store``, ``models``), whose ``--help`` starts with hbench's usage and
examples. Errors a user can cause (bad config, unknown names, an occupied run directory, missing
files; :mod:`hbench.cli_errors`) print one line ``hbench: error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from hbench import __version__
from hbench.harness.estimate import Plan
from hbench.harness.messages import not_a_run_directory, print_error

from .cli_errors import UserError, one_line, user_errors
from .delegated import DELEGATED, delegate, delegated_help

DEMO_CONFIG = Path(__file__).with_name("demo.yaml")
CALIBRATION = 3  # samples per suite timed for the estimate (kept in a real run)

QUICK_CONFIG = "configs/shapes/quick.yaml"  # shipped examples (README "A config")
FULL_CONFIG = "configs/shapes/full.yaml"


# ------------------------------------------------------------------ subcommands


def _default_out() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def cmd_run(args: argparse.Namespace) -> int:
    from hbench.harness import plugins
    from hbench.harness.config import load_config
    from hbench.harness.distributed import init_distributed
    from hbench.harness.runner import dry_run, execute, failed_suites

    plugins.load_entry_point_plugins()
    config = load_config(args.config, plugins.SYSTEMS, plugins.SUITES)
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit: expected a positive number of samples, got {args.limit}")
    if args.show_config:
        import yaml

        print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
        if not args.dry_run:
            return 0
    if args.check:
        return _check_paths(config)
    if args.dry_run:
        print(
            f"dry run of {args.config}: nothing is written; timing {CALIBRATION} samples per suite"
        )
        print(dry_run(config, limit=args.limit, calibrate=CALIBRATION).text(), end="")
        return 0
    out = Path(args.out or config.out or _default_out())
    if args.force_config and not args.resume:
        raise UserError("--force-config only applies with --resume")
    dist = init_distributed()

    def announce(plan: Plan) -> None:
        if args.resume:
            print(plan.resume_line())
        print(plan.text(), end="", flush=True)

    scores = execute(
        config,
        out,
        resume=args.resume,
        dist=dist,
        argv=sys.argv,
        progress=not args.quiet,
        force_config=args.force_config,
        limit=args.limit,
        calibrate=CALIBRATION,
        on_plan=announce,
    )
    if scores is None:
        return 0
    print(f"run directory: {out}")
    _print_summary(out)
    _print_warnings(out)
    failed = failed_suites(out, config)
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        print_error(
            f"{failed[0]}{more}; scores are in {out / 'scores.json'}; "
            f"set suites.<name>.allow_errors: true in {config.source} to accept"
        )
        return 1
    if args.command == "demo":
        print(next_steps(out))
    return 0


def _print_warnings(run_dir: Path) -> None:
    """One stderr line per suite/variant whose samples carry warnings (constant images ...)."""
    from hbench.harness.store import read_records

    counts: dict[tuple[str, str], list[str]] = {}
    for r in read_records(run_dir):
        if r.get("warnings"):
            counts.setdefault((r["suite"], r["variant"]), []).extend(r["warnings"])
    for (suite, variant), warns in sorted(counts.items()):
        print(
            f"hbench: warning: {suite}/{variant}: {len(warns)} sample warning(s), first: {warns[0]}",
            file=sys.stderr,
        )


def _check_paths(config) -> int:
    """``run --check``: every missing path on its own line (stderr), status 2; else status 0."""
    from hbench.harness import plugins
    from hbench.harness.paths import missing_paths, required_paths

    missing = missing_paths(config, plugins.SYSTEMS, plugins.SUITES)
    for line in missing:
        print(f"hbench: missing: {line}", file=sys.stderr)
    if missing:
        print(f"hbench: error: {len(missing)} missing path(s) in {config.source}", file=sys.stderr)
        return 2
    n = len(required_paths(config, plugins.SYSTEMS, plugins.SUITES))
    print(f"{config.source}: no missing paths ({n} checked)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    args.config = str(DEMO_CONFIG)
    args.show_config = False
    args.check = False
    args.dry_run = False
    return cmd_run(args)


def next_steps(run_dir: Path) -> str:
    """What a new user can do after the demo: commands that work on its run."""
    quick = _shown(QUICK_CONFIG)
    return "\n".join(
        (
            "next steps:",
            f"  the HTML report (intervals, per-type tables, images) in {run_dir / 'report'}:",
            f"    hbench report {run_dir}",
            "  check the shipped claims (the CI gate; exit 0 only if all hold):",
            f"    hbench gate {run_dir} --claims {_shown('claims/shapes.yaml')}",
            f"  run a config of your own (start from a copy of {quick}):",
            f"    hbench run {quick} --dry-run    # samples and estimated time first",
            f"    hbench run {quick}",
        )
    )


def _shown(path: str) -> str:
    """A repository file as the user can type it: relative from the checkout, else absolute."""
    if Path(path).exists():
        return path
    in_checkout = Path(__file__).resolve().parents[1] / path
    return str(in_checkout) if in_checkout.exists() else path


def _print_summary(run_dir: Path) -> None:
    from hbench.reports.summary import summary_text
    from hbench.tasks.metrics.summary import metrics_table

    print(summary_text(run_dir))
    table = metrics_table(run_dir)
    if table:
        print(table)


def cmd_list(args: argparse.Namespace) -> int:
    from hbench.harness import plugins

    plugins.load_entry_point_plugins()
    for title, registry in plugins.ALL.items():
        if not registry.names():
            continue  # nothing registered of this kind (no plugin adds one yet)
        print(f"{title}:")
        for name in registry:
            print(f"  {name:<18} {registry.help(name)}")
            if registry is plugins.SYSTEMS:
                family = registry.get(name)
                for variant, help_text in family.variants.items():
                    ref = " (reference)" if variant == family.reference else ""
                    print(f"      {variant:<14} {help_text}{ref}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    for run in args.runs:
        if not (Path(run) / "manifest.json").exists():
            raise UserError(not_a_run_directory(run))
    argv = (
        [*args.runs]
        + (["--out", args.out] if args.out else [])
        + (["--summary"] if args.text else [])
        + (["--claims", args.claims] if args.claims else [])
        + (["--figures-only"] if args.figures_only else [])
        + ["--style", args.style]
    )
    return delegate("hbench.reports.cli", argv)


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hbench",
        description="Evaluate accelerated multimodal models against their baselines.",
    )
    parser.add_argument("--version", action="version", version=f"hbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def run_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--out", help="run directory (default: the config's out, else runs/<timestamp>)"
        )
        p.add_argument(
            "--resume",
            action="store_true",
            help="continue a run directory, skipping finished samples",
        )
        p.add_argument(
            "--force-config",
            action="store_true",
            help="with --resume: continue even though the config differs from the manifest's",
        )
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.add_argument(
            "--limit",
            type=int,
            metavar="N",
            help="only the first N samples of each suite (smoke run)",
        )

    p = sub.add_parser(
        "demo",
        help="run the embedded shapes-world demo (CPU, minutes)",
        description="Run every shapes-world suite over the shapes family's variants "
        f"({DEMO_CONFIG.name} in the package), then print a summary and the next steps.",
        epilog="examples:\n  hbench demo --out runs/demo\n  hbench demo --out runs/demo --resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_flags(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "run",
        help="run a config file",
        description="Run a config: prints the samples per suite and variant and an estimated "
        f"time (timed on {CALIBRATION} samples per suite) before the long part starts.",
        epilog="examples:\n"
        f"  hbench run {QUICK_CONFIG} --dry-run    samples and estimated time, nothing written\n"
        f"  hbench run {QUICK_CONFIG} --out runs/quick\n"
        f"  hbench run {FULL_CONFIG} --show-config\n"
        f"  hbench run {FULL_CONFIG} --limit 2 --out runs/smoke   first 2 samples of each suite",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help=f"run config (YAML), e.g. {QUICK_CONFIG}")
    run_flags(p)
    p.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--check",
        action="store_true",
        help="check every checkout, weights file and data path the config names, list all "
        "that are missing, and exit (nothing loads)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="load the systems, time a few samples, print samples and estimated time; write nothing",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("list", help="list systems, variants, suites, detectors, judges, metrics")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "report",
        help="render reports from run directories",
        description="Example: hbench report runs/a runs/b --out reports/ab (two runs: "
        "before -> after)",
    )
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", help="output directory (default: RUN/report)")
    p.add_argument("--text", action="store_true", help="print the plain-text summary only")
    p.add_argument("--claims", metavar="FILE", help="add the claims table (hbench gate's checks)")
    p.add_argument("--figures-only", action="store_true", help="write only the figures")
    p.add_argument("--style", default="screen", help="figure style: screen or paper")
    p.set_defaults(func=cmd_report)

    for name, delegated in DELEGATED.items():
        # Parsed by the module's own main(); listed here for --help.
        sub.add_parser(name, help=delegated.help, add_help=False)
    return parser


def _commands() -> list[str]:
    return ["demo", "run", "list", "report", *DELEGATED]


def check_command(argv: list[str]) -> None:
    """Raise a did-you-mean :class:`UserError` for an unknown subcommand."""
    if not argv or argv[0].startswith("-") or argv[0] in _commands():
        return
    from hbench.harness.registry import unknown_name_message

    raise UserError(unknown_name_message("command", argv[0], _commands()))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hbench`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        check_command(argv)
        if argv and argv[0] in DELEGATED:
            if argv[1:] in (["-h"], ["--help"]):
                print(delegated_help(argv[0]), end="")
                return 0
            return delegate(DELEGATED[argv[0]].module, argv[1:])
        args = build_parser().parse_args(argv)
        return args.func(args)
    except user_errors() as err:
        if os.environ.get("HBENCH_DEBUG"):
            raise
        print_error(one_line(err))
        return 2
    except KeyboardInterrupt:
        print(
            "hbench: interrupted; finished samples are saved (continue with --resume)",
            file=sys.stderr,
        )
        return 130

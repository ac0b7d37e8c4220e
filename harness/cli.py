"""The ``hbench`` command line: a thin layer over the library.

Subcommands: ``demo``, ``run``, ``list``, ``report``, ``gate``, ``geneval``, ``kernels``,
``bench``. Errors a user can cause (bad config, unknown names, an occupied run directory,
missing files) print one line ``hbench: error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from datetime import datetime
from pathlib import Path

from hbench import __version__

DEMO_CONFIG = Path(__file__).with_name("demo.yaml")

# Subcommands whose arguments belong to a module's own ``main(argv)``.
DELEGATED: dict[str, tuple[str, str]] = {
    "gate": ("hbench.harness.gate", "check a run against a claims file (CI gate)"),
    "store": (
        "hbench.harness.store_cli",
        "check or repair a run directory (duplicates, torn lines)",
    ),
    "geneval": (
        "hbench.tasks.geneval.cli",
        "GenEval tools: score an image folder in the official layout",
    ),
    "gedit": (
        "hbench.tasks.gedit.cli",
        "GEdit tools: official csv, statistics, score an image folder",
    ),
    "lm-eval": ("hbench.harness.lm_eval_bridge", "run lm-eval tasks through a system variant"),
    "metrics": ("hbench.tasks.metrics.cli", "image metrics of a run: show, or recompute"),
    "kernels": ("hbench.kernels.bench", "kernel correctness checks and microbenchmarks"),
    "bench": (
        "hbench.baselines.runtime.bench",
        "speculative decoding vs plain greedy and HF peers",
    ),
}


class UserError(Exception):
    """An error caused by the user's input: printed as one line, no traceback."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from .config import ConfigError
    from .images import ImageFileError
    from .registry import UnknownNameError
    from .runner import RunError
    from .store import RunStoreError
    from .textio import InputFileError

    errors: list[type[BaseException]] = [
        UserError,
        ConfigError,
        UnknownNameError,
        RunError,
        RunStoreError,
        InputFileError,
        ImageFileError,
        OSError,  # a file the user named, a full or read-only disk: printed with its file
    ]
    # Input errors of the suites and families: bad data files, bad weights.
    for module, name in (
        ("hbench.tasks.geneval.metadata", "MetadataError"),
        ("hbench.tasks.geneval.layout", "LayoutError"),
        ("hbench.tasks.geneval.summary", "ResultsError"),
        ("hbench.tasks.latency.inputs", "InputError"),
        ("hbench.baselines.shapes.generator.weights", "WeightsError"),
        ("hbench.baselines.shapes.understanding.weights", "WeightsError"),
    ):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


# ------------------------------------------------------------------ subcommands


def _default_out() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def cmd_run(args: argparse.Namespace) -> int:
    from . import plugins
    from .config import load_config
    from .distributed import init_distributed
    from .runner import execute, failed_suites

    plugins.load_entry_point_plugins()
    config = load_config(args.config, plugins.SYSTEMS, plugins.SUITES)
    if args.show_config:
        import yaml

        print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
        return 0
    if args.check:
        return _check_paths(config)
    out = Path(args.out or config.out or _default_out())
    if args.force_config and not args.resume:
        raise UserError("--force-config only applies with --resume")
    dist = init_distributed()
    scores = execute(
        config, out, resume=args.resume, dist=dist, argv=sys.argv, progress=not args.quiet,
        force_config=args.force_config,
    )  # fmt: skip
    if scores is None:
        return 0
    print(f"run directory: {out}")
    _print_summary(out)
    _print_warnings(out)
    failed = failed_suites(out, config)
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        print(
            f"hbench: error: {failed[0]}{more}; scores are in {out / 'scores.json'}; "
            f"set suites.<name>.allow_errors: true in {config.source} to accept",
            file=sys.stderr,
        )
        return 1
    return 0


def _check_paths(config) -> int:
    """``run --check``: every missing path on its own line (stderr), status 2; else status 0."""
    from . import plugins
    from .paths import missing_paths, required_paths

    missing = missing_paths(config, plugins.SYSTEMS, plugins.SUITES)
    for line in missing:
        print(f"hbench: missing: {line}", file=sys.stderr)
    if missing:
        print(f"hbench: error: {len(missing)} missing path(s) in {config.source}", file=sys.stderr)
        return 2
    n = len(required_paths(config, plugins.SYSTEMS, plugins.SUITES))
    print(f"{config.source}: no missing paths ({n} checked)")
    return 0


def _print_warnings(run_dir: Path) -> None:
    """One stderr line per suite/variant whose samples carry warnings (constant images ...)."""
    from .store import read_records

    counts: dict[tuple[str, str], list[str]] = {}
    for r in read_records(run_dir):
        if r.get("warnings"):
            counts.setdefault((r["suite"], r["variant"]), []).extend(r["warnings"])
    for (suite, variant), warns in sorted(counts.items()):
        print(
            f"hbench: warning: {suite}/{variant}: {len(warns)} sample warning(s), first: {warns[0]}",
            file=sys.stderr,
        )


def cmd_demo(args: argparse.Namespace) -> int:
    args.config = str(DEMO_CONFIG)
    args.show_config = False
    args.check = False
    return cmd_run(args)


def _print_summary(run_dir: Path) -> None:
    from hbench.reports.summary import summary_text
    from hbench.tasks.metrics.summary import metrics_table

    print(summary_text(run_dir))
    table = metrics_table(run_dir)
    if table:
        print(table)


def cmd_list(args: argparse.Namespace) -> int:
    from . import plugins

    plugins.load_entry_point_plugins()
    for title, registry in plugins.ALL.items():
        print(f"{title}:")
        for name in registry:
            print(f"  {name:<18} {registry.help(name)}")
            if registry is plugins.SYSTEMS:
                family = registry.get(name)
                for variant, help_text in family.variants.items():
                    ref = " (reference)" if variant == family.reference else ""
                    print(f"      {variant:<14} {help_text}{ref}")
    return 0


def _delegate(module: str, argv: list[str]) -> int:
    """Hand the remaining arguments to a module's ``main(argv)``."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and module.startswith(err.name):
            raise UserError(f"this hbench build has no {module} (not installed yet)") from err
        raise
    return int(mod.main(argv) or 0)


def cmd_report(args: argparse.Namespace) -> int:
    for run in args.runs:
        if not (Path(run) / "manifest.json").exists():
            raise UserError(f"{run} is not a run directory (no manifest.json)")
    argv = (
        [*args.runs]
        + (["--out", args.out] if args.out else [])
        + (["--summary"] if args.text else [])
        + (["--claims", args.claims] if args.claims else [])
        + (["--figures-only"] if args.figures_only else [])
        + ["--style", args.style]
    )
    return _delegate("hbench.reports.cli", argv)


def _one_line(err: BaseException) -> str:
    """The message of a user error on one line (an OSError names its file)."""
    if isinstance(err, OSError) and err.strerror:
        text = f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    else:
        text = str(err)
    return " ".join(text.split("\n")).strip() or type(err).__name__


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

    p = sub.add_parser(
        "demo",
        help="run the embedded shapes-world demo (CPU, minutes)",
        description="Run every shapes-world suite over the shapes family's variants.\n"
        "Example: hbench demo --out runs/demo",
    )
    run_flags(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "run",
        help="run a config file",
        description="Example: hbench run configs/shapes.yaml --out runs/x",
    )
    p.add_argument("config", help="run config (YAML)")
    run_flags(p)
    p.add_argument("--show-config", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--check",
        action="store_true",
        help="check every checkout, weights file and data path the config names, list all "
        "that are missing, and exit (nothing loads)",
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

    for name, (_module, help_text) in DELEGATED.items():
        # Parsed by the module's own main(); listed here for --help.
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hbench`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in DELEGATED:
            return _delegate(DELEGATED[argv[0]][0], argv[1:])
        args = build_parser().parse_args(argv)
        return args.func(args)
    except _user_errors() as err:
        if os.environ.get("HBENCH_DEBUG"):
            raise
        print(f"hbench: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "hbench: interrupted; finished samples are saved (continue with --resume)",
            file=sys.stderr,
        )
        return 130

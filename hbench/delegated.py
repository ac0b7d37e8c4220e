"""The delegated subcommands of ``hbench``: a table of modules whose ``main(argv)`` parses
the rest of the command line, and the help that opens with hbench's usage and examples."""

from __future__ import annotations

import contextlib
import importlib
import io
import textwrap
from dataclasses import dataclass

from .cli_errors import UserError


@dataclass(frozen=True)
class Delegated:
    """A subcommand whose arguments belong to a module's own ``main(argv)``.

    ``usage`` and ``examples`` open its ``--help``, before the module's own options, so
    every subcommand's help starts the same way (lm-eval's own help names ``lm-eval``).
    """

    module: str
    help: str
    usage: str
    examples: tuple[str, ...]
    notes: str = ""
    help_argv: tuple[str, ...] = ("--help",)  # how the module prints its options


DELEGATED: dict[str, Delegated] = {
    "gate": Delegated(
        "hbench.gate_cli",
        "check a run against a claims file (CI gate)",
        "hbench gate RUN [RUN ...] --claims CLAIMS [--junit FILE] [--summary FILE] "
        "[--allow-partial]",
        ("hbench gate runs/demo --claims claims/shapes.yaml",),
        "Exit status: 0 every claim holds, 1 a claim fails, 2 a claim cannot be evaluated, "
        "3 the run is unfinished or incomplete (gate it anyway with --allow-partial).",
    ),
    "store": Delegated(
        "hbench.harness.store_cli",
        "check or repair a run directory (duplicates, torn lines)",
        "hbench store {check,repair} RUN",
        ("hbench store check runs/demo", "hbench store repair runs/demo"),
        "repair keeps the first record per key and saves every line it drops under RUN/repair/.",
    ),
    "geneval": Delegated(
        "hbench.tasks.geneval.cli",
        "GenEval tools: score an image folder in the official layout",
        "hbench geneval {score,prompts,check,summary,export} ...",
        (
            "hbench geneval score runs/demo/artifacts/geneval/baseline --outfile results.jsonl",
            "hbench geneval summary results.jsonl",
        ),
    ),
    "gedit": Delegated(
        "hbench.tasks.gedit.cli",
        "GEdit tools: official csv, statistics, score an image folder",
        "hbench gedit {export,stats,score} ...",
        ("hbench gedit export runs/demo", "hbench gedit stats DIR --model baseline"),
    ),
    "lm-eval": Delegated(
        "hbench.lm_eval_cli",
        "run lm-eval tasks through a system variant",
        "hbench lm-eval run --model hbench --model_args system=FAMILY[,variant=V,KEY=VALUE...] "
        "--tasks TASKS [--device cpu] [lm-eval options]",
        (
            "hbench lm-eval run --model hbench --model_args system=shapes,variant=spec "
            "--tasks my_task --include_path tasks_dir --device cpu",
        ),
        "--model hbench is the system variant. --model_args keys: system (a family of "
        "`hbench list`), variant (default: the family's reference), dtype (float32, "
        "bfloat16, float16); every other key is an option of the family (checked: a wrong key "
        "names the allowed ones). The device is lm-eval's --device, not a model_args key: "
        "lm-eval's default is cuda:0, so on a machine without CUDA pass --device cpu. "
        "lm-eval's own options follow; its usage says `lm-eval`, type `hbench lm-eval`.",
        ("run", "--help"),
    ),
    "metrics": Delegated(
        "hbench.tasks.metrics.cli",
        "image metrics of a run: show, or recompute",
        "hbench metrics RUN [--config CONFIG | --rerun]",
        ("hbench metrics runs/demo", "hbench metrics runs/demo --rerun"),
    ),
    "kernels": Delegated(
        "hbench.kernels.bench",
        "kernel correctness checks and microbenchmarks",
        "hbench kernels {bench,check} ...",
        ("hbench kernels check", "hbench kernels bench --out runs/kernels"),
        "Timing needs CUDA; on a CPU the bench runs the correctness checks only.",
    ),
    "bench": Delegated(
        "hbench.baselines.bench.spec",
        "speculative decoding vs plain greedy and HF peers",
        "hbench bench (--shapes | --tiny | --target DIR [--draft DIR] [--head FILE]) [options]",
        (
            "hbench bench --shapes --samples 20 --out runs/spec-shapes",
            "hbench bench --tiny --out runs/spec-tiny",
        ),
    ),
    "models": Delegated(
        "hbench.baselines.hf.fetch",
        "prepare real pretrained models for offline runs (hbench models fetch smollm2)",
        "hbench models (fetch NAME [--dir DIR] | path NAME [--dir DIR])",
        ("hbench models fetch smollm2", "hbench models path smollm2"),
    ),
}


def delegate(module: str, argv: list[str]) -> int:
    """Hand the remaining arguments to a module's ``main(argv)``."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and module.startswith(err.name):
            raise UserError(f"this hbench build has no {module} (not installed yet)") from err
        raise
    return int(mod.main(argv) or 0)


def delegated_help(name: str) -> str:
    """hbench's usage and examples of a delegated subcommand, then the module's own help."""
    d = DELEGATED[name]
    head = [f"usage: {d.usage}", "", d.help[0].upper() + d.help[1:] + ".", "", "examples:"]
    head += [f"  {e}" for e in d.examples]
    if d.notes:
        head += ["", *textwrap.wrap(d.notes, 88)]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
        delegate(d.module, list(d.help_argv))
    own = buffer.getvalue()
    if own.startswith("usage: hbench"):  # the module's usage repeats ours: keep its options
        own = own.split("\n\n", 1)[-1]
    return "\n".join(head) + f"\n\noptions of hbench {name} ({d.module}):\n\n" + own

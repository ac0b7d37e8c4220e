"""``hbench metrics``: (re)run the image-metrics post-pass on a finished run, or show it.

Examples::

    hbench metrics runs/demo                      # print the run's image-metrics table
    hbench metrics runs/demo --config more.yaml   # run the config's metrics on the run's
                                                  # images (cached features are reused),
                                                  # then rewrite scores.json

The config is a run config (its ``system``, ``suites`` and ``metrics``); by default the
run's own config file (``manifest.json``'s ``config_path``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hbench.harness.messages import not_a_run_directory, print_error


def rescore(run_dir: Path, config_path: str) -> None:
    """Run the config's metrics over the run's records and rewrite its scores.json."""
    from hbench.harness import plugins
    from hbench.harness.config import load_config
    from hbench.harness.metrics_pass import build_metrics, run_metrics
    from hbench.harness.runner import build_suites
    from hbench.harness.scoring import score_run
    from hbench.harness.store import SCORES
    from hbench.harness.store_lock import RunLock

    plugins.load_entry_point_plugins()
    config = load_config(config_path, plugins.SYSTEMS, plugins.SUITES)
    if not config.metrics:
        raise ValueError(f"{config_path}: the config names no metrics")
    with RunLock(run_dir, command="hbench metrics"):  # one writer of the run at a time
        run_metrics(run_dir, config, build_metrics(config))
        scores = score_run(run_dir, build_suites(config), config)
        _write_scores(run_dir / SCORES, scores)


def _write_scores(path: Path, scores: dict) -> None:
    from hbench.harness.store import json_safe, write_file_atomic

    safe, _ = json_safe(scores)
    text = json.dumps(safe, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_file_atomic(path, text.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hbench metrics``."""
    from hbench.harness.registry import UnknownNameError

    from .summary import metrics_table

    parser = argparse.ArgumentParser(
        prog="hbench metrics",
        description="Image metrics of a run: print them, or (with --config / --rerun) compute "
        "them on the run's recorded images and rewrite scores.json.",
    )
    parser.add_argument("run", help="run directory")
    parser.add_argument("--config", help="run config whose metrics to compute")
    parser.add_argument(
        "--rerun", action="store_true", help="recompute with the run's own config file"
    )
    args = parser.parse_args(argv)
    run_dir = Path(args.run)
    if not (run_dir / "manifest.json").is_file():
        print_error(not_a_run_directory(run_dir))
        return 2
    config = args.config
    if args.rerun and not config:
        config = json.loads((run_dir / "manifest.json").read_text()).get("config_path")
    try:
        if config:
            rescore(run_dir, config)
        table = metrics_table(run_dir)
    except (ValueError, FileNotFoundError, UnknownNameError) as err:  # ConfigError: ValueError
        print_error(err)
        return 2
    print(table or f"{run_dir}: no image metrics (add a metrics: block to the config)")
    return 0

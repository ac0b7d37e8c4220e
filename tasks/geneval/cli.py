"""``hbench geneval ...``: score an image folder, make or check prompt files, summarise results.

Examples::

    hbench geneval score IMAGEDIR --outfile results.jsonl            # shapes detector
    hbench geneval score IMAGEDIR --detector hf-detection \\
        --detector-option path=/models/mask2former-swin-s-coco \\
        --detector-option object_names=/data/geneval/object_names.txt \\
        --color-classifier clip --color-option checkpoint=/models/vit-l-14-openai.safetensors
    hbench geneval prompts --vocabulary coco --object-names object_names.txt --per-tag 100 -o meta.jsonl
    hbench geneval check evaluation_metadata.jsonl
    hbench geneval summary results.jsonl
    hbench geneval export RUNDIR --variant baseline -o results.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from hbench.harness import plugins
from hbench.harness.messages import print_error
from hbench.harness.registry import UnknownNameError

from .detectors import load_plugin
from .metadata import generate_metadata, load_metadata, write_metadata
from .rules import Thresholds
from .summary import format_summary, read_results, summary_scores, write_results


def _options(pairs: list[str], what: str) -> dict[str, Any]:
    """``key=value`` strings -> a mapping; values are parsed as YAML scalars (1, 0.5, true)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{what}: expected key=value, got {pair!r}")
        parsed = yaml.safe_load(value) if value else ""
        # Paths and names stay strings even when they look like numbers.
        out[key] = parsed if isinstance(parsed, (bool, int, float, dict, list)) else value
    return out


def build_parser() -> argparse.ArgumentParser:
    """The ``hbench geneval`` argument parser."""
    p = argparse.ArgumentParser(prog="hbench geneval", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("score", help="score a folder in the official GenEval layout")
    s.add_argument("imagedir")
    s.add_argument("--outfile", default=None, help="write the official results jsonl here")
    s.add_argument("--detector", default="shapes", help="a DETECTORS entry (hbench list)")
    s.add_argument("--detector-option", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--color-classifier", default="shapes", help="a COLOR_CLASSIFIERS entry")
    s.add_argument("--color-option", action="append", default=[], metavar="KEY=VALUE")
    d = Thresholds()
    s.add_argument("--threshold", type=float, default=d.threshold)
    s.add_argument("--counting-threshold", type=float, default=d.counting_threshold)
    s.add_argument("--max-objects", type=int, default=d.max_objects)
    s.add_argument("--max-overlap", type=float, default=d.max_overlap)
    s.add_argument("--position-threshold", type=float, default=d.position_threshold)
    s.add_argument(
        "--tie-order",
        choices=("official", "stable"),
        default=d.tie_order,
        help="order of equal scores: numpy's argsort as the official script, or detector order",
    )
    s.add_argument("--json", action="store_true", help="print the summary as JSON")

    g = sub.add_parser("prompts", help="generate GenEval-format metadata (official templates)")
    g.add_argument("--vocabulary", choices=("shapes", "coco"), default="shapes")
    g.add_argument("--object-names", default=None, help="object_names.txt (for coco)")
    g.add_argument("--per-tag", type=int, default=100)
    g.add_argument("--seed", type=int, default=43)
    g.add_argument("-o", "--out", required=True)

    c = sub.add_parser("check", help="validate a metadata jsonl (errors name file:line)")
    c.add_argument("metadata")

    m = sub.add_parser("summary", help="summary_scores.py numbers of a results jsonl")
    m.add_argument("results")
    m.add_argument("--json", action="store_true")

    e = sub.add_parser("export", help="official results jsonl from an hbench run directory")
    e.add_argument("rundir")
    e.add_argument("--variant", required=True)
    e.add_argument("--suite", default="geneval", help="the suite's key in the run config")
    e.add_argument("-o", "--out", required=True)
    return p


def _score(args: argparse.Namespace) -> int:
    from .scoring import score_image_dir

    thresholds = Thresholds(
        threshold=args.threshold,
        counting_threshold=args.counting_threshold,
        max_objects=args.max_objects,
        max_overlap=args.max_overlap,
        position_threshold=args.position_threshold,
        tie_order=args.tie_order,
    )
    det = load_plugin(
        plugins.DETECTORS,
        args.detector,
        _options(args.detector_option, "--detector-option"),
        "detector",
    )
    clf = load_plugin(
        plugins.COLOR_CLASSIFIERS,
        args.color_classifier,
        _options(args.color_option, "--color-option"),
        "colour classifier",
    )
    det.load()
    clf.load()
    res = score_image_dir(args.imagedir, det, clf, thresholds, args.outfile)
    if args.json:
        print(json.dumps({"summary": res.summary, "extras": res.extras}, indent=2))
    else:
        print(format_summary(res.summary))
        print()
        print("Beside the score (never changing it)")
        print("====================================")
        for key, value in res.extras.items():
            print(f"{key:<28} = {value:.4f}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from hbench.harness.store import read_records

    from .suite import records_to_results

    records = [
        r
        for r in read_records(Path(args.rundir))
        if r["suite"] == args.suite and r["variant"] == args.variant and not r.get("error")
    ]
    if not records:
        raise ValueError(
            f"{args.rundir}: no finished records of suite {args.suite!r}, variant {args.variant!r}"
        )
    records.sort(key=lambda r: r["sample"])
    write_results(args.out, records_to_results(records))
    print(f"wrote {len(records)} rows to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hbench geneval``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "score":
            return _score(args)
        if args.command == "prompts":
            recs = generate_metadata(args.vocabulary, args.per_tag, args.seed, args.object_names)
            write_metadata(args.out, recs)
            print(f"wrote {len(recs)} prompts to {args.out}")
            return 0
        if args.command == "check":
            recs = load_metadata(args.metadata)
            tags = Counter(r["tag"] for r in recs)
            print(
                f"{args.metadata}: {len(recs)} valid prompts ("
                + ", ".join(f"{t} {n}" for t, n in tags.items())
                + ")"
            )
            return 0
        if args.command == "summary":
            s = summary_scores(read_results(args.results))
            print(json.dumps(s, indent=2) if args.json else format_summary(s))
            return 0
        if args.command == "export":
            return _export(args)
    except (ValueError, OSError, ImportError, UnknownNameError) as err:
        print_error(f"geneval {args.command}: {err}")
        return 2
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())

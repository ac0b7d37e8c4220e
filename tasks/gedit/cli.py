"""``hbench gedit ...``: official-format csv files, statistics, and judging an official folder.

Examples::

    hbench gedit export RUNDIR                       # csv per variant into RUNDIR/artifacts/gedit/<v>/gedit_csv
    hbench gedit stats RESULTS/eval_results_new --model step1x --language en   # calculate_statistics.py
    hbench gedit score RESULTS/step1x --dataset /data/GEdit-Bench --judge vlm \\
        --judge-option path=/models/Qwen2.5-VL-7B-Instruct -o RESULTS/step1x/vlm/eval_results_new

``score`` reads the official generation layout ``<dir>/fullset/<task_type>/<lang>/<key>.png``
with ``<key>_SRCIMG.png`` beside it, judges every pair, and writes the official csv files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from .aggregate import ScoreRow, aggregate, format_table, read_official_dir, write_official_csvs
from .judges.base import JudgeError, JudgeInput, make_judge
from .loader import GEDIT_TASK_TYPES, GEditData
from .shapes_source import COVERED_TYPES


def _options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--judge-option: expected key=value, got {pair!r}")
        parsed = yaml.safe_load(value) if value else ""
        out[key] = parsed if isinstance(parsed, bool | int | float) else value
    return out


def _groups(name: str) -> tuple[str, ...]:
    return COVERED_TYPES if name == "shapes" else GEDIT_TASK_TYPES


def build_parser() -> argparse.ArgumentParser:
    """The ``hbench gedit`` argument parser."""
    p = argparse.ArgumentParser(prog="hbench gedit", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write official csv files for each variant of a run")
    e.add_argument("run_dir")
    e.add_argument(
        "--suite", default="gedit", help="suite instance name in the run (default gedit)"
    )
    e.add_argument(
        "--out", default=None, help="folder for the csv files (default: the run's artifacts)"
    )
    e.add_argument("--groups", choices=("gedit", "shapes"), default=None,
                   help="task types to average (default: shapes if the run has only shapes types)")  # fmt: skip
    s = sub.add_parser("stats", help="GEdit-Bench statistics of an official csv folder")
    s.add_argument("folder")
    s.add_argument("--model", required=True)
    s.add_argument("--language", default="en")
    s.add_argument("--groups", choices=("gedit", "shapes"), default="gedit")
    j = sub.add_parser("score", help="judge an official generation folder and write csv files")
    j.add_argument("folder", help="<save_path>/<model>: holds fullset/<task_type>/<lang>/<key>.png")
    j.add_argument("--dataset", required=True, help="local GEdit-Bench files (parquet or arrow)")
    j.add_argument("--judge", default="vlm")
    j.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE")
    j.add_argument(
        "-o", "--out", required=True, help="folder for <model>_<task_type>_gpt_score.csv"
    )
    j.add_argument(
        "--model", default=None, help="model name in the csv file names (default: folder name)"
    )
    return p


def _records(run_dir: Path, suite: str) -> list[dict[str, Any]]:
    """Records of one suite of a run, through the run store's one reader."""
    from hbench.harness.store import read_records

    return [r for r in read_records(run_dir) if r.get("suite") == suite]


def cmd_export(args: argparse.Namespace) -> int:
    from .suite import GEditSuite

    run_dir = Path(args.run_dir)
    recs = _records(run_dir, args.suite)
    if not recs:
        raise ValueError(f"{run_dir}: no records of suite {args.suite!r}")
    rows_all = GEditSuite.score_rows(recs)
    kind = args.groups or (
        "shapes" if {r.task_type for r in rows_all} <= set(COVERED_TYPES) else "gedit"
    )
    groups = _groups(kind)
    for variant in sorted({r["variant"] for r in recs}):
        rows = GEditSuite.score_rows([r for r in recs if r["variant"] == variant])
        out = (
            Path(args.out)
            if args.out
            else run_dir / "artifacts" / args.suite / variant / "gedit_csv"
        )
        paths = write_official_csvs(rows, out, variant, groups)
        print(f"== {variant}: {len(rows)} judged samples -> {paths[-1].parent}")
        for lang in sorted({r.language for r in rows}):
            print(f"-- language {lang}")
            print(format_table(aggregate(rows, lang, groups)))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    groups = _groups(args.groups)
    rows = read_official_dir(args.folder, args.model, groups)
    print(format_table(aggregate(rows, args.language, groups)))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    data = GEditData(args.dataset)
    judge = make_judge(args.judge, _options(args.judge_option))
    judge.load()
    rows, failed, missing = [], 0, 0
    for r in data.rows:
        base = folder / "fullset" / r.task_type / r.language
        src, edited = base / f"{r.key}_SRCIMG.png", base / f"{r.key}.png"
        if not (src.is_file() and edited.is_file()):
            missing += 1  # the official script skips these too
            continue
        with Image.open(src) as s_im, Image.open(edited) as e_im:
            source = s_im.convert("RGB")
            out = e_im.convert("RGB").resize(source.size)
        try:
            scores = judge.judge(JudgeInput(source, out, r.instruction))
        except JudgeError as err:
            failed += 1
            print(f"judge error on {edited}: {err}", file=sys.stderr)
            continue
        rows.append(ScoreRow(r.task_type, r.language, scores.sc, scores.pq, r.intersection,
                             r.instruction, str(src), str(edited)))  # fmt: skip
    model = args.model or folder.name
    write_official_csvs(rows, args.out, model)
    print(f"judged {len(rows)}, judge errors {failed}, missing images {missing}")
    for lang in sorted({r.language for r in rows}):
        print(f"-- language {lang}")
        print(format_table(aggregate(rows, lang)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hbench gedit``."""
    args = build_parser().parse_args(argv)
    return {"export": cmd_export, "stats": cmd_stats, "score": cmd_score}[args.command](args)

"""CLI: one-line errors a user can cause, and a SIGKILLed run resumed without loss."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hbench.cli import build_parser, main

CONFIG = """\
seed: 0
system:
  family: shapes
  variants: [oracle]
  reference: oracle
suites:
  geneval: {prompts: shapes, prompts_per_tag: PER_TAG, samples_per_prompt: 1}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def _hbench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hbench", *args], capture_output=True, text=True, timeout=timeout
    )


def test_parser_subcommands():
    parser = build_parser()
    args = parser.parse_args(["run", "c.yaml", "--out", "x", "--resume"])
    assert (args.config, args.out, args.resume) == ("c.yaml", "x", True)
    assert parser.parse_args(["demo"]).command == "demo"
    with pytest.raises(SystemExit):
        parser.parse_args(["frobnicate"])


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hbench: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_malformed_config_is_one_line(tmp_path, capsys):
    path = _write(tmp_path, "system: [unclosed\n")
    err = _one_line_error(capsys, ["run", str(path)])
    assert f"{path}:" in err and "not valid YAML" in err


def test_unknown_system_is_one_line(tmp_path, capsys):
    path = _write(tmp_path, CONFIG.replace("family: shapes", "family: bagle"))
    err = _one_line_error(capsys, ["run", str(path)])
    assert f"{path}:3: system.family: Unknown system family 'bagle'" in err


def test_existing_run_dir_without_resume_is_one_line(tmp_path, capsys):
    path = _write(tmp_path, CONFIG.replace("PER_TAG", "1"))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    err = _one_line_error(capsys, ["run", str(path), "--out", str(out)])
    assert "already holds records; pass --resume" in err


def test_sigkill_then_resume_records_each_sample_once(tmp_path):
    """A run killed with SIGKILL midway and resumed ends like an uninterrupted run."""
    path = _write(tmp_path, CONFIG.replace("PER_TAG", "60"))
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert _hbench("run", str(path), "--out", str(full), "--quiet").returncode == 0
    total = len((full / "records.jsonl").read_text().splitlines())
    assert total >= 100  # enough samples to kill the run midway

    proc = subprocess.Popen(
        [sys.executable, "-m", "hbench", "run", str(path), "--out", str(killed), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = killed / "records.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline:
        if records.exists() and len(records.read_bytes().splitlines()) >= total // 3:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(records.read_bytes().splitlines())
    assert 0 < partial < total, "the run must be killed midway"
    finished = records.read_bytes().count(b"\n")  # a torn last line is not a finished sample

    resumed = _hbench("run", str(path), "--out", str(killed), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {finished} of {total} samples done" in resumed.stdout
    keys = [json.loads(line)["key"] for line in records.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == total
    a = json.loads((full / "scores.json").read_text())
    b = json.loads((killed / "scores.json").read_text())

    def strip(s: dict) -> dict:
        return {
            k: {v: blk["scores"] for v, blk in b_["variants"].items()}
            for k, b_ in s["suites"].items()
        }

    assert strip(a) == strip(b)
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["resumed"] and manifest["finished"]


# ---- the first hour: help texts, did-you-mean, one error wording --------------------------


def test_unknown_command_suggests_the_close_one(capsys):
    err = _one_line_error(capsys, ["rnu", "x.yaml"])
    assert "Unknown command 'rnu'. Did you mean: run? Available: bench, demo, gate" in err


@pytest.mark.parametrize("command", ["report", "gate", "metrics"])
def test_missing_run_directory_is_worded_the_same_everywhere(tmp_path, capsys, command):
    missing = tmp_path / "nope"
    argv = [command, str(missing)] + (
        ["--claims", "claims/shapes.yaml"] if command == "gate" else []
    )
    err = _one_line_error(capsys, argv)
    assert err == f"hbench: error: {missing}: not a run directory (no manifest.json)"


def test_every_delegated_help_starts_with_hbench_usage_and_examples(capsys):
    from hbench.delegated import DELEGATED

    for name in DELEGATED:
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: hbench {name} "), (name, out[:200])
        head = out.split("options of", 1)[0]
        assert "examples:\n  hbench " + name in head, (name, head)


def test_bench_usage_is_what_the_parser_accepts(capsys):
    from hbench.baselines.bench.spec import _parser

    assert main(["bench", "--help"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("usage: hbench bench (--shapes") and "spec" not in first
    parser = _parser()
    assert parser.prog == "hbench bench" and parser.parse_args(["--shapes"]).shapes
    with pytest.raises(SystemExit):
        parser.parse_args(["spec", "--shapes"])  # the old usage line's form


def test_lm_eval_help_documents_the_hbench_model(capsys):
    assert main(["lm-eval", "--help"]) == 0
    out = capsys.readouterr().out
    head = out.split("options of", 1)[0]
    for needle in ("--model hbench", "--model_args", "system", "variant", "dtype", "--device cpu"):
        assert needle in head, needle
    assert "cuda:0" in head  # the default that fails on a CPU-only machine
    assert "--device" in out.split("options of", 1)[1]  # lm-eval's own run options follow


def test_list_has_no_empty_heading(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    headings = [i for i, line in enumerate(lines) if not line.startswith(" ")]
    for i in headings:
        assert i + 1 < len(lines) and lines[i + 1].startswith("  "), lines[i]


def test_run_help_points_at_shipped_configs(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    paths = set(re.findall(r"configs/[\w/.-]+\.yaml", out))
    assert paths == {"configs/shapes/quick.yaml", "configs/shapes/full.yaml"}
    root = Path(__file__).resolve().parents[2]
    assert all((root / p).is_file() for p in paths)


def test_dry_run_prints_samples_and_estimate_and_writes_nothing(tmp_path):
    path = _write(tmp_path, CONFIG.replace("PER_TAG", "2") + "out: " + str(tmp_path / "run") + "\n")
    proc = _hbench("run", str(path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    row = next(line.split() for line in lines if line.startswith("geneval"))
    assert row[:3] == ["geneval", "oracle", "12"]  # 6 tags x 2 prompts x 1 sample
    assert any(line.startswith("estimated time: ") for line in lines)
    assert not (tmp_path / "run").exists()


def test_limit_runs_the_first_samples_and_the_plan_comes_first(tmp_path):
    path = _write(tmp_path, CONFIG.replace("PER_TAG", "2"))
    out = tmp_path / "run"
    proc = _hbench("run", str(path), "--out", str(out), "--limit", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len((out / "records.jsonl").read_text().splitlines()) == 3
    assert json.loads((out / "manifest.json").read_text())["limit"] == 3
    text = proc.stdout
    assert text.index("estimated time:") < text.index("run directory:")

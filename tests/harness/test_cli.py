"""CLI: one-line errors a user can cause, and a SIGKILLed run resumed without loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hbench.harness.cli import build_parser, main

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

    resumed = _hbench("run", str(path), "--out", str(killed), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
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

"""Sharding on torchrun with the gloo backend: same records at any world size, resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hbench.harness.store import read_records

CONFIG = """\
seed: 5
system:
  family: shapes
  variants: [oracle]
  reference: oracle
suites:
  geneval: {prompts: shapes, prompts_per_tag: 40, samples_per_prompt: 1}
"""


def _torchrun(config: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "hbench",
        "run",
        str(config),
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _view(run: Path) -> dict[str, tuple]:
    return {r["key"]: (r["seed"], r["metrics"], r["error"]) for r in read_records(run)}


def test_two_ranks_match_one_process_and_resume(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG)
    single = tmp_path / "single"
    done = subprocess.run(
        [sys.executable, "-m", "hbench", "run", str(config), "--out", str(single), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    sharded = tmp_path / "sharded"
    proc = _torchrun(config, sharded)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert sorted(p.name for p in sharded.glob("records*.jsonl")) == [
        "records.rank0.jsonl",
        "records.rank1.jsonl",
    ]
    assert _view(sharded) == _view(single)  # same keys, seeds and scores (ordering aside)
    a = json.loads((single / "scores.json").read_text())["suites"]["geneval"]["variants"]
    b = json.loads((sharded / "scores.json").read_text())["suites"]["geneval"]["variants"]
    assert a["oracle"]["scores"] == b["oracle"]["scores"]

    # Kill the whole job midway: SIGKILL both ranks as soon as records appear (worker pids are
    # found first, so nothing slower than os.kill sits between the check and the kill).
    killed = tmp_path / "killed"
    proc = _torchrun(config, killed)
    deadline = time.time() + 240
    workers: list[int] = []
    while len(workers) < 2 and time.time() < deadline:
        pids = subprocess.run(
            ["pgrep", "-f", "--", f"--out {killed}"], capture_output=True, text=True
        ).stdout.split()
        workers = [int(p) for p in pids if int(p) != proc.pid]
        time.sleep(0.05)
    assert len(workers) >= 2, "worker processes not found"
    while time.time() < deadline:
        if any(p.stat().st_size for p in killed.glob("records*.jsonl")):
            break
        time.sleep(0.002)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=120)
    partial = len(read_records(killed))
    assert 0 < partial < len(_view(single))

    # Resume at a different world size (one process): nothing lost, nothing twice.
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "hbench",
            "run",
            str(config),
            "--out",
            str(killed),
            "--resume",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    keys = [
        json.loads(line)["key"]
        for p in killed.glob("records*.jsonl")
        for line in p.read_text().splitlines()
    ]
    assert len(keys) == len(set(keys)) == len(_view(single))
    assert _view(killed) == _view(single)

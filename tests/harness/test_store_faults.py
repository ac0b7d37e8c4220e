"""Fault injection on the run store: SIGKILL, a full disk and a second writer, seeded.

Every ``hbench`` command runs in a child forked from ``fault_driver.py`` (a subprocess
that imported hbench once), with a hook on the store's single low-level writer. Each
trial kills a run at a seeded random write (records, images, metrics.jsonl, manifest and
scores: every phase of a run), resumes it (some resumes are killed too), then finishes
it; then checks that no record is lost or duplicated, that ``hbench store check`` finds
the store clean, and that scores.json equals an uninterrupted run's (timing fields
aside). Further trials: SIGKILL during report rendering, a full disk (ENOSPC at a seeded
write), and a second run started while the first holds the lock.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from oracle_config import oracle_config

from hbench.harness.store import read_records
from hbench.harness.store_cli import check

DRIVER = Path(__file__).with_name("fault_driver.py")
ROOT = Path(__file__).resolve().parents[2]
CONFIG = oracle_config(
    "  gedit: {source: shapes, samples_per_type: 1}\n"
    "  vqa: {suite: understanding, benchmark: shapes-vqa, samples: 4}\n"
)
KILL_TRIALS = 20
TIMING = ("seconds", "per_s", "profile", "speedup")


class Driver:
    """The fork server: start hbench commands with faults, wait for them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.n = 0
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER)], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip

    def _ask(self, cmd: dict) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def start(self, *argv: str, fault: dict | None = None) -> tuple[int, Path]:
        self.n += 1
        log = self.tmp / f"log{self.n}.txt"
        return self._ask({"op": "start", "argv": list(argv), "log": str(log), "fault": fault})[
            "pid"
        ], log

    def wait(self, pid: int) -> dict:
        return self._ask({"op": "wait", "pid": pid})

    def run(self, *argv: str, fault: dict | None = None) -> tuple[dict, str]:
        pid, log = self.start(*argv, fault=fault)
        res = self.wait(pid)
        return res, log.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    config = tmp / "config.yaml"
    config.write_text(CONFIG)
    driver = Driver(tmp)
    count = tmp / "writes.txt"
    res, log = driver.run("run", str(config), "--out", str(tmp / "ref"), "--quiet",
                          fault={"count_to": str(count)})  # fmt: skip
    assert res["rc"] == 0, log
    yield driver, config, tmp, int(count.read_text())
    driver.close()


def _strip(node):
    """scores.json without what depends on the clock."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if not any(t in k for t in TIMING)}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _scores(run: Path) -> dict:
    return _strip(json.loads((run / "scores.json").read_text()))


def _assert_like_reference(run: Path, ref: Path) -> None:
    lines = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    keys = [r["key"] for r in lines]
    want = {r["key"] for r in read_records(ref)}
    assert len(keys) == len(set(keys)), "duplicated records"
    assert set(keys) == want, f"lost: {sorted(want - set(keys))[:3]}"
    problems, _ = check(run)
    assert not problems
    assert not (run / ".lock").exists()
    assert json.loads((run / "manifest.json").read_text())["finished"]
    assert _scores(run) == _scores(ref)


def _no_traceback(log: str) -> None:
    assert "Traceback" not in log, log[-2000:]


def test_seeded_kills_lose_and_duplicate_nothing(world):
    driver, config, tmp, writes = world
    assert writes > 30  # records, images, metrics lines, manifest and scores
    ref = tmp / "ref"
    rng = random.Random(23)
    killed_resumes = 0
    for trial in range(KILL_TRIALS):
        run = tmp / f"kill{trial}"
        base = ("run", str(config), "--out", str(run), "--quiet")
        res, log = driver.run(*base, fault={"kill_at": rng.randint(1, writes), "cut": rng.random()})
        assert res["signal"] == signal.SIGKILL, log
        if rng.random() < 0.5:  # kill the resume too, at a random write of its own
            res, log = driver.run(*base, "--resume",
                                  fault={"kill_at": rng.randint(1, writes // 2), "cut": rng.random()})  # fmt: skip
            killed_resumes += res["signal"] == signal.SIGKILL
            _no_traceback(log)
        res, log = driver.run(*base, "--resume")
        assert res["rc"] == 0, log
        _no_traceback(log)
        _assert_like_reference(run, ref)
    assert killed_resumes >= 3  # the seed kills several resumes mid-way


def test_kill_during_report_rendering_leaves_the_store_intact(world):
    driver, config, tmp, _ = world
    ref = tmp / "ref"
    before = (ref / "scores.json").read_bytes()
    rng = random.Random(5)
    for _ in range(3):
        pid, log = driver.start("report", str(ref), "--out", str(tmp / "report"))
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(pid, signal.SIGKILL)
        driver.wait(pid)
    res, log = driver.run("report", str(ref), "--out", str(tmp / "report"))
    assert res["rc"] == 0, log
    assert (ref / "scores.json").read_bytes() == before
    assert not check(ref)[0]


def test_full_disk_stops_in_one_line_and_resumes(world):
    driver, config, tmp, writes = world
    rng = random.Random(7)
    for trial in range(3):
        run = tmp / f"full{trial}"
        base = ("run", str(config), "--out", str(run), "--quiet")
        res, log = driver.run(
            *base, fault={"enospc_at": rng.randint(2, writes), "cut": rng.random()}
        )
        assert res["rc"] == 2, log
        _no_traceback(log)
        err = log.strip().splitlines()[-1]
        assert err.startswith("hbench: error: ") and "No space left on device" in err
        res, log = driver.run(*base, "--resume")
        assert res["rc"] == 0, log
        _assert_like_reference(run, tmp / "ref")


def test_second_run_refuses_while_the_first_holds_the_lock(world):
    driver, config, tmp, _ = world
    run, go = tmp / "twice", tmp / "go"
    base = ("run", str(config), "--out", str(run), "--quiet", "--resume")
    first, _ = driver.start(*base, fault={"pause_at": 5, "until": str(go)})
    deadline = time.time() + 60
    while not (run / ".lock").exists() and time.time() < deadline:
        time.sleep(0.01)
    res, log = driver.run(*base)
    assert res["rc"] == 2, log
    _no_traceback(log)
    assert "is in use by pid" in log and len(log.strip().splitlines()) == 1
    go.write_text("")
    assert driver.wait(first)["rc"] == 0
    _assert_like_reference(run, tmp / "ref")


def test_resume_of_a_finished_run_leaves_scores_identical(world):
    driver, config, tmp, _ = world
    run = tmp / "again"
    base = ("run", str(config), "--out", str(run), "--quiet")
    assert driver.run(*base)[0]["rc"] == 0
    before = (run / "scores.json").read_bytes()
    assert (
        json.loads(before)["suites"]["gedit"]["variants"]["oracle"]["scores"]["metrics_unavailable"]
        is not None
    )
    assert driver.run(*base, "--resume")[0]["rc"] == 0
    assert (run / "scores.json").read_bytes() == before

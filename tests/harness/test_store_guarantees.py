"""The run store's guarantees, one by one: writer, containment, lock, fingerprint, repair,
non-finite values and per-sample warnings (docs/run-store.md)."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from hbench.harness import plugins, store
from hbench.harness.config import load_config
from hbench.harness.config_fingerprint import config_fingerprint, differing_keys
from hbench.harness.runner import execute
from hbench.harness.store import (
    JsonlWriter,
    RunStore,
    RunStoreError,
    contained,
    read_records,
    record_key,
)
from hbench.harness.store_cli import check, repair
from hbench.harness.store_lock import LOCK, RunLock, RunLockedError
from hbench.harness.suite import SampleResult


def _rec(i: int, **extra) -> dict:
    return {"key": record_key("s", f"{i:03d}", 7, "v"), "suite": "s", "sample": f"{i:03d}",
            "seed": 7, "variant": "v", "metrics": {"m": i}, **extra}  # fmt: skip


# ------------------------------------------------------------------ the writer


def test_non_finite_values_are_stored_as_null_and_listed(tmp_path):
    s = RunStore(tmp_path / "run")
    s.append(_rec(0, profile={"seconds": float("nan")}, metrics={"m": float("inf")}))
    s.close()
    (rec,) = read_records(tmp_path / "run")
    assert rec["profile"]["seconds"] is None and rec["metrics"]["m"] is None
    assert rec["non_finite"] == {"profile.seconds": "nan", "metrics.m": "inf"}


def test_full_disk_names_the_file_and_keeps_what_was_written(tmp_path, monkeypatch):
    s = RunStore(tmp_path / "run")
    s.append(_rec(0))
    real = store._write

    def full(fh, data):
        real(fh, bytes(data)[:10])  # part of the line reaches the disk, then it is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store, "_write", full)
    with pytest.raises(RunStoreError, match=r"cannot append to .*records\.jsonl: No space left"):
        s.append(_rec(1))
    monkeypatch.setattr(store, "_write", real)
    s.close()
    s = RunStore(tmp_path / "run", resume=True)  # the torn line is cut on open
    assert s.done(_rec(0)["key"]) and not s.done(_rec(1)["key"])
    s.append(_rec(1))
    s.close()
    assert [r["sample"] for r in read_records(tmp_path / "run")] == ["000", "001"]


def test_writer_cuts_a_torn_tail_of_any_jsonl_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"key": "a", "metric": "m"}\n{"key": "b", "met')
    with JsonlWriter(path) as w:
        w.append({"key": "c", "metric": "m"})
    assert [json.loads(x)["key"] for x in path.read_text().splitlines()] == ["a", "c"]


# ------------------------------------------------------------------ containment


@pytest.mark.parametrize("rel", ["../x.png", "/etc/passwd", "a/../../x", "a\\..\\x", "", None])
def test_paths_outside_the_run_are_refused(tmp_path, rel):
    with pytest.raises(RunStoreError):
        contained(tmp_path, rel)


def test_symlink_leaving_the_run_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "images").symlink_to(tmp_path)
    with pytest.raises(RunStoreError, match="outside the run"):
        contained(tmp_path / "run", "images/x.png")
    assert contained(tmp_path / "run", "ok/x.png") == tmp_path / "run" / "ok" / "x.png"


# ------------------------------------------------------------------ lock


def test_lock_refuses_a_second_holder_and_releases(tmp_path):
    with RunLock(tmp_path, command="first"):
        with pytest.raises(RunLockedError, match=rf"in use by pid {os.getpid()} on "):
            RunLock(tmp_path).acquire()
    assert not (tmp_path / LOCK).exists()
    RunLock(tmp_path).acquire().release()


def test_stale_lock_of_a_dead_pid_is_taken_over(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    (tmp_path / LOCK).write_text(json.dumps({"pid": proc.pid, "host": socket.gethostname()}))
    lock = RunLock(tmp_path).acquire()
    assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    lock.release()


def test_lock_of_another_host_is_never_broken(tmp_path):
    (tmp_path / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere.invalid"}))
    with pytest.raises(RunLockedError, match="on elsewhere.invalid"):
        RunLock(tmp_path).acquire()


# ------------------------------------------------------------------ fingerprint


def test_fingerprint_ignores_where_and_how_fast_only():
    a = {"out": "x", "threads": 1, "seed": 0, "suites": {"g": {"n": 1, "allow_errors": True}},
         "metrics": {"m": {}}}  # fmt: skip
    b = {**a, "out": "y", "threads": 4, "metrics": {}, "suites": {"g": {"n": 1}}}
    assert config_fingerprint(a) == config_fingerprint(b)
    c = {**a, "seed": 1, "suites": {"g": {"n": 2}}}
    assert differing_keys(a, c) == ["seed", "suites.g.n"]


# ------------------------------------------------------------------ repair


def test_repair_dedupes_cuts_and_keeps_the_dropped_lines(tmp_path):
    run = tmp_path / "run"
    s = RunStore(run)
    for i in range(3):
        s.append(_rec(i))
    s.close()
    good = (run / "records.jsonl").read_text().splitlines()
    (run / "records.jsonl").write_text("\n".join([*good, good[0], "garbage", good[1]]) + "\n{torn")
    problems, _ = check(run)
    assert len(problems) == 4 and any("torn" in p for p in problems)
    done = repair(run)
    assert done and (run / "records.jsonl").read_text().splitlines() == good
    dropped = next((run / "repair").iterdir()).read_text().splitlines()
    assert dropped == [good[0], "garbage", good[1], "{torn"]
    assert check(run)[0] == []


# ------------------------------------------------------------------ non-finite metrics and warnings


def _nan_suite(base: type) -> type:
    class NaNSuite(base):
        """The fixture suite, with a NaN metric on sample 1 and a black image on sample 2."""

        def evaluate(self, item, output, artifacts):
            if item.sample == "00002":
                output = Image.new("RGB", output.size)
            res = super().evaluate(item, output, artifacts)
            if item.sample == "00001":
                return SampleResult(res.output, {"correct": float("nan")}, res.details)
            return res

    return NaNSuite


CONFIG = """\
system: {family: shapes, reference: oracle, variants: [oracle]}
suites:
  nan-count: {samples: 4}
"""


@pytest.fixture
def nan_suite(count_suite):
    plugins.SUITES.add("nan-count", _nan_suite(count_suite), "test fixture")
    yield
    plugins.SUITES._entries.pop("nan-count")
    plugins.SUITES._help.pop("nan-count")


def test_nan_metric_is_an_error_record_and_the_run_goes_on(tmp_path, nan_suite):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    config = load_config(path, plugins.SYSTEMS, plugins.SUITES)
    scores = execute(config, tmp_path / "run", progress=False)
    recs = {r["sample"]: r for r in read_records(tmp_path / "run")}
    assert len(recs) == 4
    assert recs["00001"]["error"]["type"] == "NonFiniteMetric"
    assert recs["00001"]["non_finite"] == {"metrics.correct": "nan"}
    assert recs["00002"]["warnings"][0].endswith("output image is constant (every pixel 0)")
    block = scores["suites"]["nan-count"]["variants"]["oracle"]
    assert block["errors"] == 1 and block["non_finite"] == 1 and block["warnings"] == 1
    again = execute(config, tmp_path / "run", resume=True, progress=False)  # resume never dies
    assert again["suites"] == scores["suites"]
    assert np.isfinite(block["scores"]["accuracy"])


def test_nan_system_stats_are_flagged_and_resume_survives(tmp_path, monkeypatch):
    from hbench.baselines.shapes.family import ShapesSystem

    real = ShapesSystem.understand
    calls = {"n": 0}

    def nan_stats(self, images, prompt, max_new_tokens):
        out = real(self, images, prompt, max_new_tokens)
        calls["n"] += 1
        if calls["n"] == 2:
            out.stats["decode_s"] = float("nan")
        return out

    monkeypatch.setattr(ShapesSystem, "understand", nan_stats)
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.replace("nan-count: {samples: 4}",
                                   "vqa: {suite: understanding, benchmark: shapes-vqa, samples: 3}"))  # fmt: skip
    config = load_config(path, plugins.SYSTEMS, plugins.SUITES)
    scores = execute(config, tmp_path / "run", progress=False)
    recs = read_records(tmp_path / "run")
    flagged = [r for r in recs if r.get("non_finite")]
    assert len(recs) == 3 and len(flagged) == 1
    assert flagged[0]["non_finite"]["profile.stages.decode_s"] == "nan"
    assert flagged[0]["error"] is None  # a stat, not a metric: the sample still counts
    block = scores["suites"]["vqa"]["variants"]["oracle"]
    assert block["non_finite"] == 1 and block["scores"]["n"] == 3
    again = execute(config, tmp_path / "run", resume=True, progress=False)
    assert again["suites"]["vqa"]["variants"]["oracle"]["scores"] == block["scores"]

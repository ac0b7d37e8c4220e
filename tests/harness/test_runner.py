"""Runner end to end on the shapes oracle with the fixture suite."""

from __future__ import annotations

import json

import pytest

from hbench.harness import plugins
from hbench.harness.config import load_config
from hbench.harness.runner import RunError, execute
from hbench.harness.store import read_records

CONFIG = """\
system:
  family: shapes
  variants: [oracle]
  reference: oracle
suites:
  shapes-count: {samples: 6, fail_sample: 2}
"""


def _config(tmp_path, text=CONFIG):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(path, plugins.SYSTEMS, plugins.SUITES)


def test_run_writes_manifest_records_scores(tmp_path, count_suite):
    run = tmp_path / "run"
    scores = execute(_config(tmp_path), run, progress=False)
    records = read_records(run)
    assert len(records) == 6
    errors = [r for r in records if r["error"]]
    assert len(errors) == 1 and "not a shapes-world GenEval prompt" in errors[0]["error"]["message"]
    block = scores["suites"]["shapes-count"]["variants"]["oracle"]
    assert block["n"] == 6 and block["errors"] == 1
    assert block["scores"]["accuracy"] == 1.0  # the oracle draws exactly what is asked
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["finished"] and manifest["config"]["suites"]["shapes-count"]["samples"] == 6
    assert manifest["versions"]["torch"]
    assert json.loads((run / "scores.json").read_text()) == scores
    assert all((run / r["output"]["image"]).exists() for r in records if not r["error"])


def test_seeds_depend_on_sample_only(tmp_path, count_suite):
    execute(_config(tmp_path), tmp_path / "a", progress=False)
    execute(
        _config(tmp_path, CONFIG.replace("samples: 6", "samples: 4")),
        tmp_path / "b",
        progress=False,
    )
    a = {r["sample"]: r["seed"] for r in read_records(tmp_path / "a")}
    b = {r["sample"]: r["seed"] for r in read_records(tmp_path / "b")}
    assert all(a[k] == v for k, v in b.items())


def test_capability_mismatch_fails_before_loading(tmp_path, count_suite, monkeypatch):
    from hbench.baselines.shapes.family import ShapesSystem

    monkeypatch.setattr(ShapesSystem, "capabilities", frozenset({"understand"}))
    with pytest.raises(RunError, match="needs 'generate'"):
        execute(_config(tmp_path), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "records.jsonl").exists()

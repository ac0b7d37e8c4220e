"""Run store: append-only records, resume, torn tails, refusal without --resume."""

from __future__ import annotations

import json

import pytest

from hbench.harness.store import RunStore, RunStoreError, read_records, record_key


def _rec(i: int) -> dict:
    return {
        "key": record_key("s", f"{i:03d}", 7, "v"),
        "suite": "s",
        "sample": f"{i:03d}",
        "seed": 7,
        "variant": "v",
        "metrics": {"m": i},
    }


def test_append_and_refuse_existing_without_resume(tmp_path):
    store = RunStore(tmp_path / "run")
    store.append(_rec(0))
    store.close()
    with pytest.raises(RunStoreError, match="already holds records; pass --resume"):
        RunStore(tmp_path / "run")


def test_resume_skips_done_and_rejects_duplicates(tmp_path):
    store = RunStore(tmp_path / "run")
    store.append(_rec(0))
    store.close()
    store = RunStore(tmp_path / "run", resume=True)
    assert store.done(_rec(0)["key"]) and not store.done(_rec(1)["key"])
    with pytest.raises(RunStoreError, match="already in the run"):
        store.append(_rec(0))
    store.append(_rec(1))
    store.close()
    assert [r["sample"] for r in read_records(tmp_path / "run")] == ["000", "001"]


def test_torn_tail_is_cut_on_resume(tmp_path):
    run = tmp_path / "run"
    store = RunStore(run)
    store.append(_rec(0))
    store.close()
    with (run / "records.jsonl").open("a") as fh:
        fh.write(json.dumps(_rec(1))[:20])  # a writer killed mid-line
    assert len(read_records(run)) == 1
    store = RunStore(run, resume=True)
    store.append(_rec(1))
    store.close()
    lines = (run / "records.jsonl").read_text().splitlines()
    assert [json.loads(x)["sample"] for x in lines] == ["000", "001"]


def test_corrupt_middle_line_is_an_error(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rec = json.dumps({"key": "a", "suite": "s", "variant": "v", "sample": "0"})
    (run / "records.jsonl").write_text(rec + "\nnot json\n" + rec.replace('"a"', '"b"') + "\n")
    with pytest.raises(RunStoreError, match=r"records.jsonl:2: corrupt record"):
        read_records(run)

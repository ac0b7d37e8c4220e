"""``hbench kernels bench`` / ``check``: the CPU message, the run directory, the timing pipeline."""

from __future__ import annotations

import json

import pytest

from hbench.kernels import bench, bench_cases, check_cases


def _read(run):
    manifest = json.loads((run / "manifest.json").read_text())
    table = json.loads((run / "kernels.json").read_text())
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    return manifest, table, records


def test_bench_without_cuda_checks_and_says_timing_needs_a_gpu(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert bench.main(["bench", "--out", str(run), "--ops", "rope"]) == 0
    out = capsys.readouterr().out
    assert "Timing needs a CUDA GPU" in out
    n = len(check_cases.cases("rope"))
    assert f"rope               {n}/{n} cases match the reference" in out
    manifest, table, records = _read(run)
    assert table["timing"] is None and table["reason"] == bench.NO_GPU_MESSAGE
    assert {r["case"].split("[")[0] for r in table["checks"]["results"]} == {"rope"}
    assert all(r["ok"] for r in table["checks"]["results"])
    assert records == []
    assert (
        manifest["device"] == "cpu"
        and manifest["finished"]
        and manifest["argv"][:3] == ["hbench", "kernels", "bench"]
    )
    assert manifest["host"]["cuda"] is None and "kernels" in manifest


def test_self_test_runs_the_timing_pipeline_on_cpu(tmp_path, capsys) -> None:
    run = tmp_path / "self"
    ops = "rmsnorm,verify_greedy,verify_sampling"
    argv = ["bench", "--self-test", "--no-compile", "--ops", ops, "--out", str(run)]
    assert bench.main(argv) == 0
    manifest, table, records = _read(run)
    assert table["self_test"] is True and "not a performance number" in table["timing"]
    assert table["copy_bandwidth_gbps"] > 0
    assert {(r["op"], r["impl"]) for r in table["rows"]} == {
        (op, impl) for op in ops.split(",") for impl in ("triton", "eager")
    }
    for r in table["rows"]:
        assert r["error"] is None and r["check_ok"] is True, r
        assert r["ms_median"] > 0 and r["gbps"] > 0 and r["bytes_min"] > 0
    assert [rec["key"] for rec in records] == [
        f"kernels/{r['op']}:{r['shape']}/0/{r['impl']}" for r in table["rows"]
    ]
    assert records[0]["suite"] == "kernels" and records[0]["metrics"]["ms_median"] > 0
    assert manifest["kernels"]["ops"]["rmsnorm"]["triton"] >= 1  # the dispatcher's report
    assert "median ms" in capsys.readouterr().out
    # A second run into the same directory is refused, not overwritten.
    assert bench.main(argv) == 2


def test_unknown_op_is_rejected(capsys) -> None:
    assert bench.main(["check", "--ops", "rmsnrom"]) == 2
    assert "unknown op(s) rmsnrom" in capsys.readouterr().err


def test_check_command_reports_per_op(capsys) -> None:
    assert bench.main(["check", "--ops", "verify_sampling"]) == 0
    n = len(check_cases.cases("verify_sampling"))
    assert f"verify_sampling    {n}/{n} cases match" in capsys.readouterr().out


def test_failed_check_fails_the_summary() -> None:
    data = {
        "results": [
            {"case": "rope[fp32]", "ok": True, "detail": ""},
            {"case": "rope[bf16]", "ok": False, "detail": "q: 3 non-finite values"},
        ]
    }
    ok, lines = bench._summarise_checks(data)
    assert not ok and "1/2" in lines[0] and "FAIL rope[bf16]" in lines[1]
    assert not bench._summarise_checks({"results": []})[0]


def test_gpu_sweep_uses_bagel_shapes() -> None:
    cases = bench_cases.bagel_cases()
    assert {c.op for c in cases} == {
        "rmsnorm",
        "fused_add_rmsnorm",
        "cfg_combine",
        "rope",
        "verify_greedy",
        "verify_sampling",
    }
    labels = " ".join(c.label for c in cases)
    for needle in (
        "12288x3584",
        "4096x64",
        "edit:text_channel",
        "t2i:global",
        "V=152064",
        "(28+4)x128",
    ):
        assert needle in labels
    assert len({(c.op, c.label) for c in cases}) == len(cases)


@pytest.mark.gpu
def test_bench_times_on_cuda(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    run = tmp_path / "gpu"
    assert bench.main(["bench", "--out", str(run), "--ops", "rmsnorm", "--rep", "20"]) == 0
    _, table, _ = _read(run)
    assert all(
        r["error"] is None and r["check_ok"] for r in table["rows"] if r["impl"] != "compile"
    )

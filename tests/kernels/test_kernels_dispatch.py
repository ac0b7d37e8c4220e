"""The dispatcher: mode validation, forced backends, recorded fallbacks, the report."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from hbench.kernels import _triton, dispatch, rmsnorm


def test_unknown_mode_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="Unknown kernel backend 'cuda'.*auto, triton, reference"):
        dispatch.set_backend("cuda")
    with pytest.raises(ValueError, match="Unknown kernel backend"):
        dispatch.Dispatcher("fast")


def test_use_backend_nests_and_restores() -> None:
    d = dispatch.Dispatcher()
    assert d.mode == "auto"
    with d.use("reference"):
        assert d.mode == "reference"
        with d.use("triton"):
            assert d.mode == "triton"
        assert d.mode == "reference"
    assert d.mode == "auto"
    d.set_default("reference")
    assert d.mode == "reference"


def test_override_is_local_to_the_thread() -> None:
    d = dispatch.Dispatcher()
    seen = []
    with d.use("reference"):
        t = threading.Thread(target=lambda: seen.append(d.mode))
        t.start()
        t.join()
    assert seen == ["auto"]


def test_auto_on_cpu_records_reference_with_reason() -> None:
    d = dispatch.Dispatcher()
    x = torch.randn(3, 4)
    assert d.choose("rmsnorm", [x]) == "reference"
    rep = d.report()
    assert rep["ops"] == {"rmsnorm": {"reference": 1}}
    assert rep["fallbacks"] == [
        {
            "op": "rmsnorm",
            "reason": "the tensors are on cpu (Triton kernels run on cuda)",
            "calls": 1,
        }
    ]
    json.dumps(rep)  # manifest-ready


def test_forced_triton_on_cpu_runs_under_the_interpreter() -> None:
    assert _triton.interpreter_ready(), "tests/kernels/conftest.py must enable the interpreter"
    d = dispatch.Dispatcher()
    with d.use("triton"):
        assert d.choose("rope", [torch.randn(2)]) == "triton"
    assert d.report()["ops"] == {"rope": {"triton": 1}}
    assert d.report()["triton"]["interpreter"] is True


def test_forced_triton_without_interpreter_raises(monkeypatch) -> None:
    monkeypatch.setattr(_triton, "interpreter_ready", lambda: False)
    d = dispatch.Dispatcher()
    with d.use("triton"), pytest.raises(RuntimeError, match="forced but the tensors are on cpu"):
        d.choose("rope", [torch.randn(2)])
    assert d.report()["ops"] == {}


def test_unsupported_inputs_fall_back_in_auto_and_raise_when_forced() -> None:
    d = dispatch.Dispatcher()
    assert d.choose("rmsnorm", [torch.randn(2)], unsupported="rows too wide") == "reference"
    assert d.report()["fallbacks"][0]["reason"] == "rows too wide"
    with d.use("triton"), pytest.raises(RuntimeError, match="rows too wide"):
        d.choose("rmsnorm", [torch.randn(2)], unsupported="rows too wide")


def test_tensors_on_two_devices_are_an_error() -> None:
    d = dispatch.Dispatcher()
    with pytest.raises(ValueError, match="several devices"):
        d.choose("rmsnorm", [torch.randn(2), torch.empty(2, device="meta")])


def test_wide_rows_use_the_reference_and_say_so() -> None:
    dispatch.reset_report()
    x = torch.randn(1, rmsnorm.MAX_COLS + 3)
    w = torch.rand(rmsnorm.MAX_COLS + 3) + 0.5
    torch.testing.assert_close(rmsnorm.rmsnorm(x, w), rmsnorm.rmsnorm_reference(x, w))
    assert "exceed" in dispatch.report()["fallbacks"][0]["reason"]
    with dispatch.use_backend("triton"), pytest.raises(RuntimeError, match="exceed"):
        rmsnorm.rmsnorm(x, w)


def test_reference_mode_is_honoured_everywhere() -> None:
    dispatch.reset_report()
    x = torch.randn(5, 12)
    w = torch.rand(12) + 0.5
    with dispatch.use_backend("reference"):
        out = rmsnorm.rmsnorm(x, w)
    torch.testing.assert_close(out, rmsnorm.rmsnorm_reference(x, w))
    assert dispatch.report()["ops"] == {"rmsnorm": {"reference": 1}}
    assert dispatch.report()["fallbacks"] == []

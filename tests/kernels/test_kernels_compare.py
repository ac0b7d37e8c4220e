"""The comparison the grid relies on: NaN, poison and off-by-tolerance values never pass."""

from __future__ import annotations

import pytest
import torch

from hbench.kernels import checks


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_nan_never_passes_even_against_nan(dtype: torch.dtype) -> None:
    ref = torch.randn(4, 5).to(dtype)
    out = ref.clone()
    out[1, 2] = float("nan")
    ok, _, detail = checks.compare("out", out, ref, dtype)
    assert not ok and "non-finite" in detail
    ref[1, 2] = float("nan")
    assert not checks.compare("out", out, ref, dtype)[0]


def test_inf_and_shape_mismatch_fail() -> None:
    ref = torch.randn(3, 3)
    out = ref.clone()
    out[0, 0] = float("inf")
    assert not checks.compare("out", out, ref, torch.float32)[0]
    assert not checks.compare("out", ref[:2], ref, torch.float32)[0]


def test_tolerance_is_tight_in_fp32_and_stated_in_bf16() -> None:
    ref = torch.randn(64) + 3.0
    atol, rtol = checks.TOLERANCES[torch.float32]
    assert checks.compare("out", ref + 0.5 * atol, ref, torch.float32)[0]
    assert not checks.compare("out", ref * (1 + 10 * rtol) + atol, ref, torch.float32)[0]
    # One bf16 ulp (what the interpreter's truncating cast can cost) passes, 8 ulps do not.
    ref16 = ref.to(torch.bfloat16)
    one_ulp = (ref16.float() * (1 + 2**-8)).to(torch.bfloat16)
    assert checks.compare("out", one_ulp, ref16, torch.bfloat16)[0]
    assert not checks.compare("out", ref16.float() * (1 + 8 * 2**-8), ref16, torch.bfloat16)[0]


def test_exact_results_compare_exactly() -> None:
    assert checks._exact("t", torch.tensor([1, 2]), torch.tensor([1, 2]))[0]
    assert not checks._exact("t", torch.tensor([1, 2]), torch.tensor([1, 3]))[0]
    assert not checks._exact("n", 3, 2)[0]

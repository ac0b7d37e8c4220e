"""Deliberately wrong kernel variants must fail the grid (the tests can fail).

Each mutant is the real kernel's source with one small edit (kept in bounds: the interpreter
does not bounds-check raw loads, so an out-of-bounds mutant could corrupt the process) (an off-by-one mask, a dropped
bound, a wrong tie-break ...), compiled with ``triton.jit`` from a temporary file and put
in place of the kernel; the op's cases from ``kernels/checks.py`` must then report a failure.
A control (the unedited source through the same machinery) must pass.
"""

from __future__ import annotations

import importlib.util
import inspect
import textwrap

import pytest

from hbench.kernels import cfg, check_cases, checks, rmsnorm, rope, verify, verify_sampling

MUTANTS = [
    # (module, kernel, original text, mutant text, op whose cases must catch it)
    (rmsnorm, "_rmsnorm_kernel", "col_ok = cols < n_cols", "col_ok = cols < n_cols - 1", "rmsnorm"),
    (
        rmsnorm,
        "_rmsnorm_kernel",
        "mask = (rows < n_rows)[:, None]",
        "mask = (rows < n_rows - 1)[:, None]",
        "rmsnorm",
    ),
    (rmsnorm, "_rmsnorm_kernel", "axis=1) / n_cols", "axis=1) / BLOCK_C", "rmsnorm"),
    (
        cfg,
        "_cfg_rows_kernel",
        "tl.maximum(norm_c / (norm_a + 1e-8), renorm_min)",
        "(norm_c / (norm_a + 1e-8))",
        "cfg_combine",
    ),
    (cfg, "_cfg_rows_kernel", "if not TEXT_CHANNEL:", "if True:", "cfg_combine"),
    (
        cfg,
        "_cfg_rows_kernel",
        "mask = (rows < n_rows)[:, None]",
        "mask = (rows < n_rows - 1)[:, None]",
        "cfg_combine",
    ),
    (
        cfg,
        "_guided_block",  # the block both passes of ``global`` load
        "mask = idx < n_per_sample",
        "mask = idx < n_per_sample - 1",
        "cfg_combine",
    ),
    (
        cfg,
        "_cfg_global_scale_kernel",
        "range(0, n_blocks, BLOCK)",
        "range(0, n_blocks - 1, BLOCK)",
        "cfg_combine",
    ),
    (rope, "_rope_kernel", "(x2 * cos2 + x1 * sin2)", "(x2 * cos2 - x1 * sin2)", "rope"),
    (
        rope,
        "_rope_kernel",
        "mk = (hk < n_k_heads)[:, None]",
        "mk = (hk < n_k_heads - 1)[:, None]",
        "rope",
    ),
    (rope, "_rope_kernel", "cos2 = tl.load(cs + half + d,", "cos2 = tl.load(cs + d,", "rope"),
    (
        verify,
        "_argmax_blocks_kernel",
        "tl.min(tl.where(x == m, cols, vocab), axis=0)",
        "tl.max(tl.where(x == m, cols, -1), axis=0)",
        "verify_greedy",
    ),
    (
        verify,
        "_argmax_rows_kernel",
        "tl.min(tl.where(m == best, idx, vocab), axis=0)",
        "tl.max(tl.where(m == best, idx, -1), axis=0)",
        "verify_greedy",
    ),
    (verify, "_argmax_rows_kernel", "if row < n_draft:", "if row < n_draft - 1:", "verify_greedy"),
    (
        verify_sampling,
        "_accept_kernel",
        "accept = in_vocab & (q > 0) & (u * q < p)",
        "accept = in_vocab & (q > 0) & (u < p)",
        "verify_sampling",
    ),
    (
        verify_sampling,
        "_residual_kernel",
        "r = tl.maximum(p - q, 0.0)",
        "r = tl.abs(p - q)",
        "verify_sampling",
    ),
    (
        verify_sampling,
        "_normalize_kernel",
        "tl.where(total > 0, r / safe, p), mask=ok)",
        "tl.where(total > 0, r / safe, p), mask=ok & (cols < vocab - 1))",
        "verify_sampling",
    ),
    (
        cfg,
        "_cfg_rows_kernel",
        "cols.to(tl.int64)[None, :] * inner",
        "cols.to(tl.int64)[None, :] * 1",
        "cfg_combine",
    ),
    (
        verify_sampling,
        "_normalize_kernel",
        "tl.where(total > 0, r / safe, p)",
        "r / safe",
        "verify_sampling",
    ),
]


def _compile_variant(module, name: str, old: str, new: str, tmp_path):
    src = textwrap.dedent(inspect.getsource(getattr(module, name).fn))
    src = "\n".join(line for line in src.splitlines() if not line.startswith("@"))
    assert src.count(old) == 1, f"{name}: the text to mutate must occur once: {old!r}"
    path = tmp_path / f"variant_{name}.py"
    path.write_text(
        "import triton\nimport triton.language as tl\n\n\n@triton.jit\n"
        + src.replace(old, new)
        + "\n"
    )
    spec = importlib.util.spec_from_file_location(f"variant_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, name)


def _first_failure(op: str) -> checks.CheckResult | None:
    for case in check_cases.cases(op):
        try:
            result = checks.run_case(case)
        except Exception as err:  # a crash is also a caught mutant; report what it was
            return checks.CheckResult(case.id, False, float("inf"), f"raised {err!r}")
        if not result.ok:
            return result
    return None


@pytest.mark.parametrize(
    "module, name, old, new, op", MUTANTS, ids=[f"{m[1]}:{m[3]}" for m in MUTANTS]
)
def test_mutant_is_caught(module, name, old, new, op, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(module, name, _compile_variant(module, name, old, new, tmp_path))
    failure = _first_failure(op)
    assert failure is not None, f"mutant {new!r} of {name} passed every {op} case"


def test_control_variant_passes(tmp_path, monkeypatch) -> None:
    same = "col_ok = cols < n_cols"
    monkeypatch.setattr(
        rmsnorm,
        "_rmsnorm_kernel",
        _compile_variant(rmsnorm, "_rmsnorm_kernel", same, same, tmp_path),
    )
    assert _first_failure("rmsnorm") is None

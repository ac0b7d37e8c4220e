"""Correctness checks of every kernel against its reference, over :mod:`.check_cases`' grid.

Shared by the tests (``tests/kernels``) and ``hbench kernels bench``. Each case draws its
own random inputs (seeded from the base seed and the case id, never all zeros), poisons the
kernel's output buffers with NaN (or -1 for indices) before the call, runs the Triton
kernel forced through the dispatcher, and compares with the reference. NaN never passes.

Tolerances (``|out - ref| <= atol + rtol * |ref|``): float32 ``1e-5 / 1e-5``; float16
``2e-3 / 2e-3``; bfloat16 ``2e-2 / 1.6e-2``. bfloat16 is loose enough for the interpreter's
fp32->bf16 cast, which truncates where a GPU rounds to nearest even (one ulp apart).
Verification results (lengths, tokens, decisions) must match exactly.

Run ``python -m hbench.kernels.checks`` with ``TRITON_INTERPRET=1`` for a JSON report.
"""

from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import cfg, dispatch, rmsnorm, rope, verify, verify_sampling
from .check_cases import Case, cases

TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float32: (1e-5, 1e-5),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (2e-2, 1.6e-2),
}


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one case: ``ok`` and, if not, what differed."""

    case_id: str
    ok: bool
    max_abs_err: float
    detail: str

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "case": self.case_id,
            "ok": self.ok,
            "max_abs_err": self.max_abs_err,
            "detail": self.detail,
        }


def compare(
    name: str, out: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype
) -> tuple[bool, float, str]:
    """Compare within ``dtype``'s tolerance; any NaN/inf in ``out`` or a shape change fails."""
    if out.shape != ref.shape:
        return False, float("inf"), f"{name}: shape {tuple(out.shape)} != {tuple(ref.shape)}"
    o, r = out.detach().double().cpu(), ref.detach().double().cpu()
    bad_values = ~torch.isfinite(o)
    if bad_values.any():
        first = tuple(int(i) for i in bad_values.nonzero()[0])
        return (
            False,
            float("inf"),
            f"{name}: {int(bad_values.sum())} non-finite values, first at {first}",
        )
    atol, rtol = TOLERANCES[dtype]
    err = (o - r).abs()
    worst = float(err.max()) if err.numel() else 0.0
    over = err > atol + rtol * r.abs()
    if over.any():
        first = tuple(int(i) for i in over.nonzero()[0])
        return (
            False,
            worst,
            f"{name}: {int(over.sum())}/{err.numel()} elements off (atol={atol}, rtol={rtol}); "
            f"first at {first}: {float(o[first])} vs {float(r[first])}",
        )
    return True, worst, ""


def _exact(name: str, got: object, want: object) -> tuple[bool, float, str]:
    if isinstance(got, torch.Tensor):
        same = got.shape == want.shape and bool(torch.equal(got.cpu(), want.cpu()))
        got, want = got.tolist(), want.tolist()
    else:
        same = got == want
    return (True, 0.0, "") if same else (False, float("inf"), f"{name}: {got} != {want}")


def _merge(*results: tuple[bool, float, str]) -> tuple[bool, float, str]:
    ok = all(r[0] for r in results)
    return ok, max(r[1] for r in results), "; ".join(r[2] for r in results if r[2])


def _randn(shape, gen, dtype, device) -> torch.Tensor:
    return torch.randn(shape, generator=gen).to(dtype=dtype, device=device)


# ---- per-op checks ----------------------------------------------------------------------


def _check_rmsnorm(case: Case, gen: torch.Generator, device: str) -> tuple[bool, float, str]:
    shape, dt = case.params["shape"], case.dtype
    w_dtype = case.params.get("weight_dtype", dt)
    x = _randn(shape, gen, dt, device)
    w = (1.0 + 0.5 * torch.randn(shape[-1], generator=gen)).to(w_dtype).to(device)
    out_dtype = torch.promote_types(w_dtype, dt)
    out = torch.full(shape, float("nan"), dtype=out_dtype, device=device)
    if not case.params.get("residual"):
        ref = rmsnorm.rmsnorm_reference(x, w)
        with dispatch.use_backend("triton"):
            got = rmsnorm.rmsnorm(x, w, out=out)
        # Tolerance of the input dtype: Qwen2 rounds the normalised row to it before the weight.
        return _merge(_exact("same buffer", got is out, True), compare("out", out, ref, dt))
    r = _randn(shape, gen, dt, device)
    res_out = torch.full(shape, float("nan"), dtype=dt, device=device)
    ref, ref_sum = rmsnorm.fused_add_rmsnorm_reference(x, r, w)
    with dispatch.use_backend("triton"):
        rmsnorm.fused_add_rmsnorm(x, r, w, out=out, residual_out=res_out)
    return _merge(compare("out", out, ref, dt), compare("residual_out", res_out, ref_sum, dt))


def _check_cfg(case: Case, gen: torch.Generator, device: str) -> tuple[bool, float, str]:
    p, shape, dt = case.params, case.params["shape"], case.dtype
    c, t, u = (_randn(shape, gen, dt, device) for _ in range(3))
    kwargs = dict(
        text_scale=p.get("text_scale", 4.0),
        img_scale=p.get("img_scale", 1.0),
        renorm_mode=p["mode"],
        renorm_min=p.get("renorm_min", 0.0),
        apply_cfg=p.get("apply_cfg", True),
        per_sample=p.get("per_sample", False),
        channel_dim=p.get("channel_dim", -1),
    )
    ref = cfg.cfg_combine_reference(c, t, u, **kwargs)
    out = torch.full(shape, float("nan"), dtype=dt, device=device)
    with dispatch.use_backend("triton"):
        cfg.cfg_combine(c, t, u, **kwargs, out=out)
    return compare("out", out, ref, dt)


def _check_rope(case: Case, gen: torch.Generator, device: str) -> tuple[bool, float, str]:
    p, dt = case.params, case.dtype
    batch, seq, hq, hk, d = p["bshkd"]
    layout = p.get("layout", "bshd")
    if layout == "packed":  # BAGEL: [T, H, D] with per-token tables [T, D]
        q, k = _randn((seq, hq, d), gen, dt, device), _randn((seq, hk, d), gen, dt, device)
        table_shape = (seq, d)
    elif layout == "bhsd":  # HF: [B, H, S, D] passed as a transposed view
        q = _randn((batch, hq, seq, d), gen, dt, device).transpose(1, 2)
        k = _randn((batch, hk, seq, d), gen, dt, device).transpose(1, 2)
        table_shape = (batch, seq, d)
    else:
        q, k = (
            _randn((batch, seq, hq, d), gen, dt, device),
            _randn((batch, seq, hk, d), gen, dt, device),
        )
        table_shape = (seq, d)
    angles = 10.0 * torch.rand(table_shape, generator=gen)
    cos, sin = angles.cos().to(device), angles.sin().to(device)
    q_ref, k_ref = rope.rope_reference(q.clone(), k.clone(), cos, sin)
    with dispatch.use_backend("triton"):
        q_out, k_out = rope.apply_rope_(q, k, cos, sin)
    same = _exact("in place", (q_out is q) and (k_out is k), True)
    return _merge(same, compare("q", q, q_ref, dt), compare("k", k, k_ref, dt))


def _greedy_inputs(case: Case, gen: torch.Generator, device: str):
    k, vocab = case.params["k"], case.params["vocab"]
    logits = torch.randn((k + 1, vocab), generator=gen)
    if case.params.get("ties") and vocab > 1:
        # Plant a tie for the max at two positions per row (lowest must win), across blocks.
        a = torch.randint(0, vocab // 2, (k + 1,), generator=gen)
        b = torch.randint(vocab // 2, vocab, (k + 1,), generator=gen)
        top = logits.max(dim=1).values + 1.0
        logits[torch.arange(k + 1), a] = top
        logits[torch.arange(k + 1), b] = top
    logits = logits.to(case.dtype)
    target = logits.float().argmax(dim=1)
    n_ok = (
        int(case.params["accept"])
        if case.params["accept"] != "rand"
        else int(torch.randint(0, k + 1, (1,), generator=gen))
    )
    draft = target[:k].clone()
    if n_ok < k:  # first mismatch at n_ok, random tokens after it
        draft[n_ok] = (
            draft[n_ok] + 1 + torch.randint(0, max(vocab - 1, 1), (1,), generator=gen)
        ) % vocab
        draft[n_ok + 1 :] = torch.randint(0, vocab, (k - n_ok - 1,), generator=gen)
        if vocab == 1:
            draft[n_ok] = 1  # out of vocabulary: the only way to mismatch with V = 1
    return draft.to(device), logits.to(device)


def _check_greedy(case: Case, gen: torch.Generator, device: str) -> tuple[bool, float, str]:
    draft, logits = _greedy_inputs(case, gen, device)
    ref = verify.verify_greedy_reference(draft, logits)
    with dispatch.use_backend("triton"):
        got = verify.verify_greedy(draft, logits, block_v=case.params.get("block_v"))
    return _merge(
        _exact("accepted_len", got.accepted_len, ref.accepted_len),
        _exact("next_token", got.next_token, ref.next_token),
        _exact("target_tokens", got.target_tokens, ref.target_tokens),
    )


def _check_sampling(case: Case, gen: torch.Generator, device: str) -> tuple[bool, float, str]:
    k, vocab, dt = case.params["k"], case.params["vocab"], case.dtype
    q = torch.softmax(2.0 * torch.randn((k, vocab), generator=gen), dim=-1)
    # The target is the draft plus noise, so acceptance varies from position to position.
    noise = case.params.get("noise", 1.0) * torch.randn((k + 1, vocab), generator=gen)
    p = torch.softmax(torch.cat([q, q[-1:] if k else torch.ones(1, vocab)]).log() + noise, dim=-1)
    draft = (
        torch.multinomial(q, 1, generator=gen).squeeze(1) if k else torch.zeros(0, dtype=torch.long)
    )
    if case.params.get("oov") and k:
        draft[-1] = vocab + 3
    u = torch.rand((k,), generator=gen)
    if case.params.get("zero_mass") and k:
        # Unnormalised target p = q / 2 and u >= 1/2: reject at 0 with an all-zero residual.
        p[:k] = 0.5 * q
        u = 0.5 + 0.5 * u
    q, p = q.to(dt).to(device), p.to(dt).to(device)
    draft, u = draft.to(device), u.to(device)
    ref = verify_sampling.verify_sampling_reference(draft, q, p, u)
    out = torch.full((vocab,), float("nan"), dtype=torch.float32, device=device)
    with dispatch.use_backend("triton"):
        got = verify_sampling.verify_sampling(
            draft, q, p, u, block_v=case.params.get("block_v"), out=out
        )
    return _merge(
        _exact("accepted_len", got.accepted_len, ref.accepted_len),
        _exact("accepted", got.accepted, ref.accepted),
        compare("probs", out, ref.probs, torch.float32),
        _exact("probs is out", got.probs is out, True),
    )


CHECKS: dict[str, Callable[[Case, torch.Generator, str], tuple[bool, float, str]]] = {
    "rmsnorm": _check_rmsnorm,
    "cfg_combine": _check_cfg,
    "rope": _check_rope,
    "verify_greedy": _check_greedy,
    "verify_sampling": _check_sampling,
}


def run_case(case: Case, seed: int = 0, device: str = "cpu") -> CheckResult:
    """Run one case with inputs drawn from ``seed`` and the case id."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(case.id.encode()))
    ok, err, detail = CHECKS[case.op](case, gen, device)
    return CheckResult(case.id, ok, err, detail)


def run_all(seed: int = 0, device: str = "cpu", op: str | None = None) -> list[CheckResult]:
    """Run the whole grid (or one op's cases)."""
    return [run_case(c, seed, device) for c in cases(op)]


def main(argv: list[str] | None = None) -> int:
    """Print the grid's results as one JSON line (``python -m hbench.kernels.checks``)."""
    import argparse

    from ._triton import interpreter_ready

    parser = argparse.ArgumentParser(prog="python -m hbench.kernels.checks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", default="", help="comma-separated ops (default: all)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    ops = [o for o in args.ops.split(",") if o] or [None]
    unknown = [o for o in ops if o is not None and o not in CHECKS and o != "fused_add_rmsnorm"]
    if unknown:
        print(json.dumps({"error": f"unknown ops {unknown}; available: {sorted(CHECKS)}"}))
        return 2
    device = "cuda" if torch.cuda.is_available() and not interpreter_ready() else "cpu"
    if device == "cpu" and not interpreter_ready():
        print(
            json.dumps(
                {"error": "no CUDA and TRITON_INTERPRET=1 was not set before triton imported"}
            )
        )
        return 2
    # fused_add_rmsnorm's cases are the rmsnorm cases with a residual.
    ops = sorted({"rmsnorm" if o == "fused_add_rmsnorm" else o for o in ops}, key=str)
    results = [r for op in ops for r in run_all(args.seed, device, op)]
    print(
        json.dumps({"device": device, "seed": args.seed, "results": [r.to_json() for r in results]})
    )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

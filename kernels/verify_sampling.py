"""Rejection-sampling verification of one drafted chain (Leviathan et al. / Chen et al.).

Draft token ``x_i`` is accepted iff ``q_i(x_i) > 0`` and ``u_i * q_i(x_i) < p_i(x_i)``
(``u_i`` uniform in [0, 1); the runtime's rule, division-free); the accepted length is the
number of leading acceptances ``j``; the token to emit next is sampled from
``norm(max(p_j - q_j, 0))`` if ``j < k`` and from ``p_k`` if ``j == k``. If that residual
has no mass (possible only when rows are not normalised) ``p_j`` itself is returned.
A draft token outside ``[0, V)`` is rejected. Greedy verification is :mod:`.verify`.

Shapes: ``draft_tokens [k]`` (int32/int64), ``draft_probs [k, V]``, ``target_probs
[k+1, V]``, ``uniforms [k]``; one sequence per call. Probs may be float16/bfloat16/float32
and must be finite; math is float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import dispatch
from ._triton import check_out, jit, tl, triton
from .verify import DTYPES, MAX_BLOCKS, check_tokens, vocab_block


@dataclass(frozen=True)
class SamplingVerdict:
    """Result of rejection-sampling verification.

    Attributes:
        accepted_len: Leading draft tokens accepted (0..k).
        accepted: ``[k]`` bool, the accept/reject decision at every position.
        probs: ``[V]`` float32 distribution to sample the next token from (the normalised
            residual at the first rejection, or the target's bonus row ``p_k``).
        residual_mass: Sum of the unnormalised row above; 0 means the inputs were not
            probability rows, and ``probs`` is then ``p_j`` as given.
    """

    accepted_len: int
    accepted: torch.Tensor
    probs: torch.Tensor
    residual_mass: float


@jit
def _accept_kernel(
    draft_ptr,
    p_ptr,
    q_ptr,
    u_ptr,
    info_ptr,
    n_draft,
    vocab,
    stride_p,
    stride_q,
    BLOCK_K: tl.constexpr,
):
    # info[:k] = decisions, info[k] = accepted length (as float32, exact for small k).
    i = tl.arange(0, BLOCK_K)
    live = i < n_draft
    x = tl.load(draft_ptr + i, mask=live, other=0).to(tl.int64)
    in_vocab = (x >= 0) & (x < vocab)
    gather = live & in_vocab
    p = tl.load(p_ptr + i.to(tl.int64) * stride_p + x, mask=gather, other=0.0).to(tl.float32)
    q = tl.load(q_ptr + i.to(tl.int64) * stride_q + x, mask=gather, other=0.0).to(tl.float32)
    u = tl.load(u_ptr + i, mask=live, other=0.0).to(tl.float32)
    accept = in_vocab & (q > 0) & (u * q < p)
    tl.store(info_ptr + i, accept.to(tl.float32), mask=live)
    first_reject = tl.min(tl.where(live & (accept == 0), i, n_draft), axis=0)
    tl.store(info_ptr + n_draft, first_reject.to(tl.float32))


@jit
def _residual_kernel(
    p_ptr,
    q_ptr,
    info_ptr,
    out_ptr,
    partial_ptr,
    n_draft,
    vocab,
    stride_p,
    stride_q,
    BLOCK_V: tl.constexpr,
):
    # out = max(p_j - q_j, 0) for j < k, else p_k; partial[block] = its sum.
    blk = tl.program_id(0)
    j = tl.load(info_ptr + n_draft).to(tl.int64)
    cols = blk * BLOCK_V + tl.arange(0, BLOCK_V)
    ok = cols < vocab
    p = tl.load(p_ptr + j * stride_p + cols, mask=ok, other=0.0).to(tl.float32)
    q = tl.load(q_ptr + j * stride_q + cols, mask=ok & (j < n_draft), other=0.0).to(tl.float32)
    r = tl.maximum(p - q, 0.0)
    tl.store(out_ptr + cols, r, mask=ok)
    tl.store(partial_ptr + blk, tl.sum(r, axis=0))


@jit
def _normalize_kernel(
    p_ptr,
    out_ptr,
    partial_ptr,
    info_ptr,
    n_blocks,
    n_draft,
    vocab,
    stride_p,
    BLOCK_V: tl.constexpr,
    BLOCK_B: tl.constexpr,
):
    blk = tl.program_id(0)
    b = tl.arange(0, BLOCK_B)
    total = tl.sum(tl.load(partial_ptr + b, mask=b < n_blocks, other=0.0), axis=0)
    if blk == 0:
        tl.store(info_ptr + n_draft + 1, total)
    cols = blk * BLOCK_V + tl.arange(0, BLOCK_V)
    ok = cols < vocab
    r = tl.load(out_ptr + cols, mask=ok, other=0.0)
    j = tl.load(info_ptr + n_draft).to(tl.int64)
    p = tl.load(p_ptr + j * stride_p + cols, mask=ok, other=0.0).to(tl.float32)
    safe = tl.where(total > 0, total, 1.0)  # no 0/0 even in the discarded branch
    tl.store(out_ptr + cols, tl.where(total > 0, r / safe, p), mask=ok)


def verify_sampling_reference(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    uniforms: torch.Tensor,
) -> SamplingVerdict:
    """Rejection-sampling verification in eager PyTorch: the spec."""
    k, vocab = draft_probs.shape
    x = draft_tokens.long()
    in_vocab = (x >= 0) & (x < vocab)
    xc = x.clamp(0, vocab - 1).unsqueeze(1)
    p_x = target_probs[:k].float().gather(1, xc).squeeze(1)
    q_x = draft_probs.float().gather(1, xc).squeeze(1)
    accepted = in_vocab & (q_x > 0) & (uniforms.float() * q_x < p_x)
    j = int((~accepted).long().cumsum(0).eq(0).sum()) if k else 0
    p_j = target_probs[j].float()
    r = (p_j - draft_probs[j].float()).clamp(min=0.0) if j < k else p_j.clamp(min=0.0)
    mass = float(r.sum())
    return SamplingVerdict(j, accepted, r / mass if mass > 0 else p_j, mass)


def check_sampling_inputs(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    uniforms: torch.Tensor,
) -> None:
    """Raises ValueError unless the shapes in the module docstring hold."""
    k = draft_tokens.shape[0] if draft_tokens.dim() == 1 else -1
    for name, t in (("draft_probs", draft_probs), ("target_probs", target_probs)):
        if t.dim() != 2 or t.dtype not in DTYPES or t.shape[1] == 0:
            raise ValueError(
                f"verify_sampling: {name} must be [rows, V] float, got {tuple(t.shape)} {t.dtype}"
            )
    if draft_probs.shape[1] != target_probs.shape[1]:
        raise ValueError(
            f"verify_sampling: vocab sizes differ: draft {draft_probs.shape[1]}, target {target_probs.shape[1]}"
        )
    check_tokens("verify_sampling", draft_tokens, target_probs.shape[0], "target_probs")
    if draft_probs.shape[0] != k or uniforms.shape != (k,) or not uniforms.is_floating_point():
        raise ValueError(
            f"verify_sampling: need draft_probs [{k}, V] and float uniforms [{k}], got "
            f"{tuple(draft_probs.shape)} and {tuple(uniforms.shape)} {uniforms.dtype}"
        )


def _launch_sampling(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    uniforms: torch.Tensor,
    out: torch.Tensor,
    block_v: int | None,
) -> torch.Tensor:
    """The three Triton passes of :func:`verify_sampling` (accept, residual, normalize) into
    ``out``; returns ``info``: ``k`` accept flags, the accepted length, the residual mass."""
    k, vocab = draft_probs.shape
    dev = target_probs.device
    bv = vocab_block(vocab, block_v)
    n_blocks = triton.cdiv(vocab, bv)
    p = target_probs if target_probs.stride(1) == 1 else target_probs.contiguous()
    q = draft_probs if draft_probs.stride(1) == 1 else draft_probs.contiguous()
    # NaN until written, so a decision the kernel skipped cannot pass for a real one.
    info = torch.full((k + 2,), float("nan"), dtype=torch.float32, device=dev)
    partial = torch.empty((n_blocks,), dtype=torch.float32, device=dev)
    if k == 0:  # nothing to decide; empty tensors may carry null pointers (never loaded)
        draft_tokens, q, uniforms = info, p, info
    _accept_kernel[(1,)](
        draft_tokens,
        p,
        q,
        uniforms,
        info,
        k,
        vocab,
        p.stride(0),
        q.stride(0),
        BLOCK_K=triton.next_power_of_2(max(k, 1)),
    )
    _residual_kernel[(n_blocks,)](
        p,
        q,
        info,
        out,
        partial,
        k,
        vocab,
        p.stride(0),
        q.stride(0),
        BLOCK_V=bv,
        num_warps=8 if bv >= 2048 else 4,
    )
    _normalize_kernel[(n_blocks,)](
        p,
        out,
        partial,
        info,
        n_blocks,
        k,
        vocab,
        p.stride(0),
        BLOCK_V=bv,
        BLOCK_B=triton.next_power_of_2(n_blocks),
        num_warps=8 if bv >= 2048 else 4,
    )
    return info


def verify_sampling(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    uniforms: torch.Tensor,
    *,
    block_v: int | None = None,
    out: torch.Tensor | None = None,
) -> SamplingVerdict:
    """Rejection-sampling speculative verification (Triton or reference, per :mod:`dispatch`).

    Args:
        draft_tokens: ``[k]`` int32/int64 tokens the draft sampled.
        draft_probs: ``[k, V]`` draft distributions ``q_i`` they were sampled from.
        target_probs: ``[k+1, V]`` target distributions ``p_i`` (after temperature/top-p).
        uniforms: ``[k]`` uniform draws in [0, 1) (the caller owns the generator).
        block_v: Vocabulary block per program (power of two; tests use small ones).
        out: Optional contiguous ``[V]`` float32 buffer for ``probs``.

    Returns:
        :class:`SamplingVerdict`; the caller samples the next token from ``probs``.
    """
    check_sampling_inputs(draft_tokens, draft_probs, target_probs, uniforms)
    k, vocab = draft_probs.shape
    dev = target_probs.device
    if out is None:
        out = torch.empty((vocab,), dtype=torch.float32, device=dev)
    check_out("verify_sampling", "out", out, (vocab,), torch.float32, dev)
    tensors = (draft_tokens, draft_probs, target_probs, uniforms)
    too_big = triton is not None and triton.cdiv(vocab, vocab_block(vocab, block_v)) > MAX_BLOCKS
    why = f"V={vocab} needs more than {MAX_BLOCKS} blocks" if too_big else None
    if dispatch.choose("verify_sampling", tensors, why) == "reference":
        ref = verify_sampling_reference(draft_tokens, draft_probs, target_probs, uniforms)
        return SamplingVerdict(
            ref.accepted_len, ref.accepted, out.copy_(ref.probs), ref.residual_mass
        )
    info = _launch_sampling(draft_tokens, draft_probs, target_probs, uniforms, out, block_v)
    host = info.tolist()
    return SamplingVerdict(int(host[k]), info[:k] > 0.5, out, float(host[k + 1]))

"""Speculative-decoding verification of one drafted chain against the target model.

Greedy (``verify_greedy``): the target's choice at position ``i`` is ``argmax(logits[i])``
(ties go to the lowest index, as ``torch.argmax``). The accepted length is the number of
leading draft tokens equal to those choices; the next token is the target's choice at the
first mismatch (the correction), or at position ``k`` when all ``k`` were accepted (the bonus).

Sampling is :mod:`.verify_sampling` (it shares this module's input checks and limits).
A draft token outside ``[0, V)`` is rejected (it never equals the argmax).

Shapes: ``draft_tokens [k]`` (int32/int64), ``target_logits [k+1, V]``; one sequence per
call. Logits may be float16/bfloat16/float32 and must be finite; math is float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import dispatch
from ._triton import jit, tl, triton

DTYPES = (torch.float16, torch.bfloat16, torch.float32)
MAX_BLOCKS = 4096  # vocab chunks per row; limits V to MAX_BLOCKS * block_v


@dataclass(frozen=True)
class GreedyVerdict:
    """Result of greedy verification.

    Attributes:
        accepted_len: Leading draft tokens accepted (0..k).
        next_token: Target's token at position ``accepted_len`` (correction or bonus).
        target_tokens: ``[k+1]`` int64 argmax per position (per-position acceptance stats).
    """

    accepted_len: int
    next_token: int
    target_tokens: torch.Tensor


# ---- greedy -----------------------------------------------------------------------------


@jit
def _argmax_blocks_kernel(logits_ptr, vmax_ptr, vidx_ptr, vocab, stride_row, BLOCK_V: tl.constexpr):
    # Stage 1: per (row, vocab block) max and its first index.
    row = tl.program_id(0)
    blk = tl.program_id(1)
    cols = blk * BLOCK_V + tl.arange(0, BLOCK_V)
    x = tl.load(
        logits_ptr + row.to(tl.int64) * stride_row + cols, mask=cols < vocab, other=-float("inf")
    ).to(tl.float32)
    m = tl.max(x, axis=0)
    first = tl.min(tl.where(x == m, cols, vocab), axis=0)  # lowest index holding the max
    out = row * tl.num_programs(1) + blk
    tl.store(vmax_ptr + out, m)
    tl.store(vidx_ptr + out, first)


@jit
def _argmax_rows_kernel(
    vmax_ptr,
    vidx_ptr,
    draft_ptr,
    target_ptr,
    first_bad_ptr,
    n_blocks,
    n_draft,
    vocab,
    BLOCK_B: tl.constexpr,
):
    # Stage 2: reduce the blocks of one row (earliest block wins ties), compare with the draft.
    row = tl.program_id(0)
    b = tl.arange(0, BLOCK_B)
    ok = b < n_blocks
    m = tl.load(vmax_ptr + row * n_blocks + b, mask=ok, other=-float("inf"))
    idx = tl.load(vidx_ptr + row * n_blocks + b, mask=ok, other=vocab)
    best = tl.max(m, axis=0)
    token = tl.min(tl.where(m == best, idx, vocab), axis=0)
    tl.store(target_ptr + row, token.to(tl.int64))
    if row < n_draft:
        draft = tl.load(draft_ptr + row).to(tl.int64)
        if draft != token:
            tl.atomic_min(first_bad_ptr, row.to(tl.int64))


def verify_greedy_reference(
    draft_tokens: torch.Tensor, target_logits: torch.Tensor
) -> GreedyVerdict:
    """Greedy verification in eager PyTorch (EAGLE's argmax / cumprod / sum)."""
    k = draft_tokens.shape[0]
    target = target_logits.float().argmax(dim=-1)
    matches = (target[:k] == draft_tokens.long()).long()
    accepted = int(matches.cumprod(0).sum()) if k else 0
    return GreedyVerdict(accepted, int(target[accepted]), target)


def check_tokens(op: str, draft_tokens: torch.Tensor, k_rows: int, name: str) -> None:
    """Refuse draft tokens that are not a 1-D integer chain fitting ``k_rows`` target rows."""
    if draft_tokens.dim() != 1 or draft_tokens.dtype not in (torch.int32, torch.int64):
        raise ValueError(
            f"{op}: draft_tokens must be a 1-D int32/int64 tensor [k] (one sequence; batched "
            f"verification is not supported), got {tuple(draft_tokens.shape)} {draft_tokens.dtype}"
        )
    if k_rows != draft_tokens.shape[0] + 1:
        raise ValueError(
            f"{op}: {name} has {k_rows} rows; expected k+1 = {draft_tokens.shape[0] + 1}"
        )


def check_greedy_inputs(draft_tokens: torch.Tensor, target_logits: torch.Tensor) -> None:
    """Raises ValueError unless ``draft_tokens [k]`` and ``target_logits [k+1, V]``."""
    if target_logits.dim() != 2 or target_logits.dtype not in DTYPES or target_logits.shape[1] == 0:
        raise ValueError(
            f"verify_greedy: target_logits must be [k+1, V] float, got "
            f"{tuple(target_logits.shape)} {target_logits.dtype}"
        )
    check_tokens("verify_greedy", draft_tokens, target_logits.shape[0], "target_logits")


def vocab_block(vocab: int, block_v: int | None) -> int:
    """The vocabulary block per program: ``block_v`` checked, or one from ``vocab``."""
    if block_v is None:
        block_v = min(4096, triton.next_power_of_2(vocab))
    if block_v & (block_v - 1):
        raise ValueError(f"block_v must be a power of two, got {block_v}")
    return block_v


def verify_greedy(
    draft_tokens: torch.Tensor, target_logits: torch.Tensor, *, block_v: int | None = None
) -> GreedyVerdict:
    """Greedy speculative verification (Triton or reference, per :mod:`dispatch`).

    Args:
        draft_tokens: ``[k]`` int32/int64 drafted tokens.
        target_logits: ``[k+1, V]`` target logits at the drafted positions plus one.
        block_v: Vocabulary block per program (power of two; tests use small ones).

    Returns:
        :class:`GreedyVerdict`; reading it synchronises once with the device.
    """
    check_greedy_inputs(draft_tokens, target_logits)
    k, vocab = draft_tokens.shape[0], target_logits.shape[1]
    too_big = triton is not None and triton.cdiv(vocab, vocab_block(vocab, block_v)) > MAX_BLOCKS
    why = f"V={vocab} needs more than {MAX_BLOCKS} blocks" if too_big else None
    if dispatch.choose("verify_greedy", (draft_tokens, target_logits), why) == "reference":
        return verify_greedy_reference(draft_tokens, target_logits)
    bv = vocab_block(vocab, block_v)
    n_blocks = triton.cdiv(vocab, bv)
    dev = target_logits.device
    logits = target_logits if target_logits.stride(1) == 1 else target_logits.contiguous()
    vmax = torch.empty((k + 1, n_blocks), dtype=torch.float32, device=dev)
    vidx = torch.empty((k + 1, n_blocks), dtype=torch.int32, device=dev)
    # One buffer for [first mismatch, targets...] so the host reads it in one copy.
    info = torch.full((k + 2,), -1, dtype=torch.int64, device=dev)  # -1: never written
    info[0] = k
    _argmax_blocks_kernel[(k + 1, n_blocks)](
        logits, vmax, vidx, vocab, logits.stride(0), BLOCK_V=bv, num_warps=8 if bv >= 2048 else 4
    )
    _argmax_rows_kernel[(k + 1,)](
        vmax,
        vidx,
        draft_tokens if k else info,  # k = 0: an empty tensor may carry a null pointer
        info[1:],
        info,
        n_blocks,
        k,
        vocab,
        BLOCK_B=triton.next_power_of_2(n_blocks),
    )
    host = info.tolist()
    accepted = host[0]
    return GreedyVerdict(accepted, host[1 + accepted], info[1:])

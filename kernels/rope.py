"""Rotary position embedding (Qwen2's ``rotate_half`` form) applied to q and k in place.

Shapes: ``q`` is ``[B, S, Hq, D]`` or ``[T, Hq, D]`` (BAGEL's packed layout), ``k`` the same
with ``Hk`` heads; any strides with a contiguous last dimension, so HF's ``[B, H, S, D]``
tensors go in as ``q.transpose(1, 2)``. ``cos``/``sin`` are ``[S, D]`` (shared by the batch)
or ``[B, S, D]``: the per-token tables already gathered by position id, as
``Qwen2RotaryEmbedding`` returns them. ``D`` is even.

For each head vector ``x`` with halves ``x1 = x[:D/2]`` and ``x2 = x[D/2:]``:
``x <- x * cos + cat(-x2, x1) * sin``, computed in float32 and stored in ``x``'s dtype.
One program handles one token: it reads that token's cos/sin once for all q and k heads.
"""

from __future__ import annotations

import torch

from . import dispatch
from ._triton import jit, tl, triton

DTYPES = (torch.float16, torch.bfloat16, torch.float32)


@jit
def _rope_kernel(
    q_ptr,
    k_ptr,
    cos_ptr,
    sin_ptr,
    seq_len,
    n_q_heads,
    n_k_heads,
    half,
    sq_b,
    sq_s,
    sq_h,
    sk_b,
    sk_s,
    sk_h,
    sc_b,
    sc_s,
    BLOCK_HQ: tl.constexpr,
    BLOCK_HK: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    token = tl.program_id(0)
    b = (token // seq_len).to(tl.int64)
    s = (token % seq_len).to(tl.int64)
    d = tl.arange(0, BLOCK_D)
    d_ok = d < half
    cs = cos_ptr + b * sc_b + s * sc_s
    sn = sin_ptr + b * sc_b + s * sc_s
    cos1 = tl.load(cs + d, mask=d_ok, other=0.0).to(tl.float32)[None, :]
    cos2 = tl.load(cs + half + d, mask=d_ok, other=0.0).to(tl.float32)[None, :]
    sin1 = tl.load(sn + d, mask=d_ok, other=0.0).to(tl.float32)[None, :]
    sin2 = tl.load(sn + half + d, mask=d_ok, other=0.0).to(tl.float32)[None, :]

    hq = tl.arange(0, BLOCK_HQ)
    mq = (hq < n_q_heads)[:, None] & d_ok[None, :]
    pq = q_ptr + b * sq_b + s * sq_s + hq[:, None] * sq_h + d[None, :]
    x1 = tl.load(pq, mask=mq, other=0.0).to(tl.float32)
    x2 = tl.load(pq + half, mask=mq, other=0.0).to(tl.float32)
    tl.store(pq, (x1 * cos1 - x2 * sin1).to(q_ptr.dtype.element_ty), mask=mq)
    tl.store(pq + half, (x2 * cos2 + x1 * sin2).to(q_ptr.dtype.element_ty), mask=mq)

    hk = tl.arange(0, BLOCK_HK)
    mk = (hk < n_k_heads)[:, None] & d_ok[None, :]
    pk = k_ptr + b * sk_b + s * sk_s + hk[:, None] * sk_h + d[None, :]
    y1 = tl.load(pk, mask=mk, other=0.0).to(tl.float32)
    y2 = tl.load(pk + half, mask=mk, other=0.0).to(tl.float32)
    tl.store(pk, (y1 * cos1 - y2 * sin1).to(k_ptr.dtype.element_ty), mask=mk)
    tl.store(pk + half, (y2 * cos2 + y1 * sin2).to(k_ptr.dtype.element_ty), mask=mk)


def _as_4d(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    if q.dim() == 3:
        q, k = q.unsqueeze(0), k.unsqueeze(0)
    if cos.dim() == 2:
        cos, sin = cos.unsqueeze(0), sin.unsqueeze(0)
    return q, k, cos, sin


def check_rope_inputs(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> None:
    """Validate layouts (see the module docstring).

    Raises:
        ValueError: A shape, dtype or stride the op does not define.
    """
    if q.dim() not in (3, 4) or k.dim() != q.dim():
        raise ValueError(
            f"rope: q and k must both be [B, S, H, D] or [T, H, D], got {tuple(q.shape)} and {tuple(k.shape)}"
        )
    if q.dtype not in DTYPES or k.dtype not in DTYPES:
        raise ValueError(f"rope: dtypes {q.dtype}/{k.dtype} not supported; use one of {DTYPES}")
    if q.shape[:-2] != k.shape[:-2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"rope: q {tuple(q.shape)} and k {tuple(k.shape)} differ in tokens or head_dim"
        )
    head_dim = q.shape[-1]
    if head_dim % 2:
        raise ValueError(f"rope: head_dim must be even, got {head_dim}")
    if q.stride(-1) != 1 or k.stride(-1) != 1:
        raise ValueError("rope: q and k need a contiguous last dimension (stride 1)")
    tokens = q.shape[:-2]
    ok = cos.shape == sin.shape and cos.shape[-1] == head_dim and cos.dim() in (2, 3)
    ok = ok and cos.shape[-2] == tokens[-1]
    ok = ok and (cos.dim() == 2 or (q.dim() == 4 and cos.shape[0] in (1, tokens[0])))
    if not ok:
        raise ValueError(
            f"rope: cos/sin {tuple(cos.shape)}/{tuple(sin.shape)} must be [S, D] or [B, S, D] "
            f"for q {tuple(q.shape)}"
        )


def rope_reference(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x * cos + rotate_half(x) * sin`` in float32, written back into q and k."""
    q4, k4, cos4, sin4 = _as_4d(q, k, cos, sin)
    c = cos4.float().unsqueeze(2)  # [B|1, S, 1, D] broadcasts over heads
    s = sin4.float().unsqueeze(2)
    for x in (q4, k4):
        xf = x.float()
        x1, x2 = xf.chunk(2, dim=-1)
        x.copy_(xf * c + torch.cat((-x2, x1), dim=-1) * s)
    return q, k


def _launch(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> None:
    q4, k4, cos4, sin4 = _as_4d(q, k, cos, sin)
    cos4, sin4 = cos4.contiguous(), sin4.contiguous()
    batch, seq, n_q, head_dim = q4.shape
    n_k = k4.shape[2]
    cos_b = 0 if cos4.shape[0] == 1 else cos4.stride(0)  # one table shared by the batch
    half = head_dim // 2
    block_d = triton.next_power_of_2(half)
    block_hq = triton.next_power_of_2(n_q)
    _rope_kernel[(batch * seq,)](
        q4,
        k4,
        cos4,
        sin4,
        seq,
        n_q,
        n_k,
        half,
        q4.stride(0),
        q4.stride(1),
        q4.stride(2),
        k4.stride(0),
        k4.stride(1),
        k4.stride(2),
        cos_b,
        cos4.stride(1),
        BLOCK_HQ=block_hq,
        BLOCK_HK=triton.next_power_of_2(n_k),
        BLOCK_D=block_d,
        num_warps=min(8, max(1, block_hq * block_d // 256)),
    )


def apply_rope_(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate q and k in place (Triton or reference, per :mod:`dispatch`).

    Args:
        q: ``[B, S, Hq, D]`` or ``[T, Hq, D]``, float16/bfloat16/float32, last dim contiguous.
        k: Same layout with ``Hk`` heads.
        cos: ``[S, D]`` or ``[B, S, D]`` (or ``[1, S, D]``), per token.
        sin: Same shape as ``cos``.

    Returns:
        ``(q, k)``, the same tensors, rotated.

    Raises:
        ValueError: See :func:`check_rope_inputs`.
    """
    check_rope_inputs(q, k, cos, sin)
    if q.numel() == 0:
        return q, k
    if dispatch.choose("rope", (q, k, cos, sin)) == "reference":
        return rope_reference(q, k, cos, sin)
    _launch(q, k, cos, sin)
    return q, k

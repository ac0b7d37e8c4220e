"""A PyTorch stand-in for ``flash_attn.flash_attn_varlen_func`` (BAGEL imports it at module load).

BAGEL's NaViT language model and ViT call flash-attention's variable-length kernel for every
attention. Where ``flash_attn`` is not installed (CPU machines, ROCm without the wheel) the
loader can register this module's function under the name ``flash_attn`` so the official
code imports and runs; :func:`flash_attn_status` says which one is in use and the run
manifest records it. It is a reference implementation (one SDPA per sequence, float32
softmax), far slower than the kernel, and meant for tests and CPU smoke runs.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types

import torch
import torch.nn.functional as F

FALLBACK_MODULE = "hbench.baselines.bagel.attention"


def flash_attn_varlen_func(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int | None = None,
    max_seqlen_k: int | None = None,
    dropout_p: float = 0.0,
    softmax_scale: float | None = None,
    causal: bool = False,
    **unused: object,
) -> torch.Tensor:
    """Variable-length attention with flash-attention's conventions.

    Args:
        q: ``[total_q, H, D]`` packed queries.
        k: ``[total_k, H_kv, D]`` packed keys (``H % H_kv == 0``: grouped-query attention).
        v: ``[total_k, H_kv, D]`` packed values.
        cu_seqlens_q: ``[B + 1]`` cumulative query lengths.
        cu_seqlens_k: ``[B + 1]`` cumulative key lengths.
        max_seqlen_q: Unused (the kernel's launch hint).
        max_seqlen_k: Unused.
        dropout_p: Must be 0 (inference only).
        softmax_scale: Defaults to ``D ** -0.5``.
        causal: Causal mask aligned to the bottom-right corner, as flash-attention >= 2.1
            does when a sequence has fewer queries than keys (queries follow a KV cache).

    Returns:
        ``[total_q, H, D]`` in ``q``'s dtype.
    """
    if dropout_p:
        raise NotImplementedError(
            "the reference flash_attn_varlen_func is inference-only (dropout_p=0)"
        )
    heads, kv_heads = q.shape[1], k.shape[1]
    if heads % kv_heads:
        raise ValueError(f"query heads {heads} not a multiple of key/value heads {kv_heads}")
    scale = softmax_scale if softmax_scale is not None else q.shape[-1] ** -0.5
    out = torch.empty_like(q)
    cq, ck = cu_seqlens_q.tolist(), cu_seqlens_k.tolist()
    for i in range(len(cq) - 1):
        qs = q[cq[i] : cq[i + 1]].transpose(0, 1).float()  # [H, Lq, D]
        ks = k[ck[i] : ck[i + 1]].transpose(0, 1).float()
        vs = v[ck[i] : ck[i + 1]].transpose(0, 1).float()
        if kv_heads != heads:
            ks = ks.repeat_interleave(heads // kv_heads, dim=0)
            vs = vs.repeat_interleave(heads // kv_heads, dim=0)
        mask = None
        lq, lk = qs.shape[1], ks.shape[1]
        if causal:
            rows = torch.arange(lq, device=q.device)[:, None] + (lk - lq)
            mask = torch.arange(lk, device=q.device)[None, :] <= rows
        o = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=mask, scale=scale)
        out[cq[i] : cq[i + 1]] = o.transpose(0, 1).to(q.dtype)
    return out


def flash_attn_available() -> bool:
    """Whether the real ``flash_attn`` package can be imported."""
    mod = sys.modules.get("flash_attn")
    if mod is not None:
        return getattr(mod, "__hbench_fallback__", False) is False
    return importlib.util.find_spec("flash_attn") is not None


def install_fallback() -> None:
    """Register :func:`flash_attn_varlen_func` as module ``flash_attn`` (only if it is absent).

    Raises:
        RuntimeError: The real ``flash_attn`` is importable (never shadow it).
    """
    if "flash_attn" in sys.modules:
        if getattr(sys.modules["flash_attn"], "__hbench_fallback__", False):
            return
        raise RuntimeError("flash_attn is already imported; refusing to replace it")
    if importlib.util.find_spec("flash_attn") is not None:
        raise RuntimeError("flash_attn is installed; the reference fallback is not needed")
    mod = types.ModuleType("flash_attn")
    # A spec but no version and no file: transformers' availability probe (find_spec, then
    # metadata / __version__) then reports flash-attention as *not* installed, as it is not.
    mod.__spec__ = importlib.machinery.ModuleSpec("flash_attn", None)
    mod.__doc__ = f"hbench reference stand-in ({FALLBACK_MODULE}); not the flash-attention kernel"
    mod.flash_attn_varlen_func = flash_attn_varlen_func  # type: ignore[attr-defined]
    mod.__hbench_fallback__ = True  # type: ignore[attr-defined]
    sys.modules["flash_attn"] = mod


def flash_attn_status() -> str:
    """``"flash_attn"``, ``"reference"`` (the fallback is registered) or ``"missing"``."""
    mod = sys.modules.get("flash_attn")
    if mod is not None and getattr(mod, "__hbench_fallback__", False):
        return "reference"
    return "flash_attn" if flash_attn_available() else "missing"

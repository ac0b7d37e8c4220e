"""RMSNorm as in the Qwen2 backbone, optionally fused with the residual add before it.

Shapes: ``x`` and ``residual`` are ``[..., C]`` (last dimension contiguous), ``weight`` is
``[C]``. Dtypes: float16, bfloat16 or float32 in; statistics accumulate in float32.

Semantics follow ``Qwen2RMSNorm.forward`` exactly, including its rounding points:
``y = weight * (x * rsqrt(mean(x**2) + eps)).to(x.dtype)``. The fused variant first forms
``s = x + residual`` in the model dtype (as the decoder layer's eager add does) and returns
``(rmsnorm(s), s)``, so the caller keeps ``s`` as the next residual.
"""

from __future__ import annotations

import torch

from . import dispatch
from ._triton import check_out, jit, tl, triton

MAX_COLS = 65536  # one row lives in registers; wider rows use the reference
DTYPES = (torch.float16, torch.bfloat16, torch.float32)


@jit
def _rmsnorm_kernel(
    x_ptr,
    res_ptr,
    w_ptr,
    out_ptr,
    res_out_ptr,
    n_rows,
    n_cols,
    eps,
    HAS_RESIDUAL: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    # A tile of BLOCK_R whole rows per program; all tensors are contiguous [n_rows, n_cols].
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_C)
    col_ok = cols < n_cols
    mask = (rows < n_rows)[:, None] & col_ok[None, :]
    offs = rows.to(tl.int64)[:, None] * n_cols + cols[None, :]
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    if HAS_RESIDUAL:
        r = tl.load(res_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        # Round the sum to the model dtype, as the eager ``hidden + residual`` does.
        s = (x + r).to(res_out_ptr.dtype.element_ty)
        tl.store(res_out_ptr + offs, s, mask=mask)
        x = s.to(tl.float32)
    mean_sq = tl.sum(x * x, axis=1) / n_cols
    rstd = 1.0 / tl.sqrt(mean_sq + eps)
    # Qwen2 casts the normalised row back to the input dtype before the weight multiply.
    y = (x * rstd[:, None]).to(x_ptr.dtype.element_ty).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)
    tl.store(out_ptr + offs, (y * w[None, :]).to(out_ptr.dtype.element_ty), mask=mask)


def rmsnorm_reference(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Qwen2RMSNorm in eager PyTorch: the spec the kernel must match."""
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


def fused_add_rmsnorm_reference(
    x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor]:
    """``s = x + residual`` (model dtype), then ``(rmsnorm(s), s)``."""
    s = x + residual
    return rmsnorm_reference(s, weight, eps), s


def check_rmsnorm_inputs(
    x: torch.Tensor, weight: torch.Tensor, residual: torch.Tensor | None = None
) -> None:
    """Validate shapes and dtypes.

    Raises:
        ValueError: A shape or dtype the op does not define.
    """
    if x.dim() < 1 or x.shape[-1] == 0:
        raise ValueError(f"rmsnorm: x must be [..., C] with C > 0, got shape {tuple(x.shape)}")
    if x.dtype not in DTYPES:
        raise ValueError(f"rmsnorm: x dtype {x.dtype} not supported; use one of {DTYPES}")
    if weight.shape != (x.shape[-1],):
        raise ValueError(
            f"rmsnorm: weight shape {tuple(weight.shape)} != ({x.shape[-1]},) (x's last dimension)"
        )
    if weight.dtype not in DTYPES:
        raise ValueError(f"rmsnorm: weight dtype {weight.dtype} not supported; use one of {DTYPES}")
    if residual is not None and (residual.shape != x.shape or residual.dtype != x.dtype):
        raise ValueError(
            f"rmsnorm: residual {tuple(residual.shape)} {residual.dtype} must match "
            f"x {tuple(x.shape)} {x.dtype}"
        )


def _outputs(
    x: torch.Tensor,
    weight: torch.Tensor,
    out: torch.Tensor | None,
    residual_out: torch.Tensor | None = None,
    fused: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    dtype = torch.promote_types(weight.dtype, x.dtype)
    if out is None:
        out = torch.empty(x.shape, dtype=dtype, device=x.device)
    check_out("rmsnorm", "out", out, x.shape, dtype, x.device)
    if fused:
        if residual_out is None:
            residual_out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        check_out("rmsnorm", "residual_out", residual_out, x.shape, x.dtype, x.device)
    return out, residual_out


def _launch(
    x: torch.Tensor,
    weight: torch.Tensor,
    eps: float,
    residual: torch.Tensor | None,
    out: torch.Tensor,
    res_out: torch.Tensor | None,
) -> None:
    n_cols = x.shape[-1]
    x2 = x.reshape(-1, n_cols).contiguous()
    n_rows = x2.shape[0]
    res2 = None if residual is None else residual.reshape(-1, n_cols).contiguous()
    block_c = triton.next_power_of_2(n_cols)
    block_r = max(1, min(64, 4096 // block_c, triton.next_power_of_2(n_rows)))
    num_warps = min(16, max(1, block_r * block_c // 512))
    grid = (triton.cdiv(n_rows, block_r),)
    _rmsnorm_kernel[grid](
        x2,
        res2 if res2 is not None else x2,
        weight.contiguous(),
        out,
        res_out if res_out is not None else out,
        n_rows,
        n_cols,
        float(eps),
        HAS_RESIDUAL=residual is not None,
        BLOCK_R=block_r,
        BLOCK_C=block_c,
        num_warps=num_warps,
    )


def _unsupported(x: torch.Tensor) -> str | None:
    if x.shape[-1] > MAX_COLS:
        return f"rows of {x.shape[-1]} elements exceed the kernel's {MAX_COLS}"
    return None


def rmsnorm(
    x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6, *, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Qwen2 RMSNorm over the last dimension (Triton or reference, per :mod:`dispatch`).

    Args:
        x: ``[..., C]`` float16/bfloat16/float32.
        weight: ``[C]``.
        eps: Added to the mean square.
        out: Optional contiguous output buffer (else a new tensor).

    Returns:
        ``out``: ``x``'s shape, dtype ``promote_types(weight.dtype, x.dtype)``.
    """
    check_rmsnorm_inputs(x, weight)
    out, _ = _outputs(x, weight, out)
    if dispatch.choose("rmsnorm", (x, weight), _unsupported(x)) == "reference":
        return out.copy_(rmsnorm_reference(x, weight, eps))
    _launch(x, weight, eps, None, out, None)
    return out


def fused_add_rmsnorm(
    x: torch.Tensor,
    residual: torch.Tensor,
    weight: torch.Tensor,
    eps: float = 1e-6,
    *,
    out: torch.Tensor | None = None,
    residual_out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual add then RMSNorm in one pass: returns ``(rmsnorm(x + residual), x + residual)``.

    Args:
        x: ``[..., C]`` float16/bfloat16/float32 (e.g. an attention block's output).
        residual: Same shape and dtype as ``x``.
        weight: ``[C]``.
        eps: Added to the mean square.
        out: Optional contiguous buffer for the normalised output.
        residual_out: Optional contiguous buffer for ``x + residual``; may be ``residual``
            itself (in-place update: each tile reads before it writes).

    Returns:
        ``(out, residual_out)``; ``residual_out`` in ``x``'s dtype.
    """
    check_rmsnorm_inputs(x, weight, residual)
    out, res_out = _outputs(x, weight, out, residual_out, fused=True)
    assert res_out is not None
    if dispatch.choose("fused_add_rmsnorm", (x, residual, weight), _unsupported(x)) == "reference":
        normed, summed = fused_add_rmsnorm_reference(x, residual, weight, eps)
        return out.copy_(normed), res_out.copy_(summed)
    _launch(x, weight, eps, residual, out, res_out)
    return out, res_out

"""BAGEL's classifier-free guidance combine with renormalisation, fused.

Mirrors ``Bagel.generate_image`` / ``Bagel._forward_flow`` (ByteDance-Seed/Bagel,
``modeling/bagel/bagel.py``). With ``c`` the conditional velocity, ``t`` the text-unconditional
one and ``i`` the image-unconditional one (editing), all ``[..., C]``:

* outside the cfg interval (``apply_cfg=False``) both scales are 1.0;
* if ``text_scale <= 1`` there is no guidance: ``c`` is returned as is (the same tensor);
* ``a = t + text_scale * (c - t)``;
* ``text_channel``: ``a *= clamp(|c| / (|a| + 1e-8), renorm_min, 1)`` per row (last dim), then
  ``out = i + img_scale * (a - i)`` if ``img_scale > 1`` else ``a``;
* ``global`` / ``channel``: ``a = i + img_scale * (a - i)`` if ``img_scale > 1``, then
  ``out = a * clamp(|c| / (|a| + 1e-8), renorm_min, 1)`` with the norms over the whole
  tensor (``global``) or per row (``channel``).

``clamp`` is ``torch.clamp(x, min=renorm_min, max=1.0)``, i.e. ``min(max(x, lo), 1)``.
BAGEL runs one image per call, so ``global`` takes the norm over everything passed;
``per_sample=True`` takes it per index of dim 0 instead (a batch of images at once).
``channel_dim`` names the axis of the row norms (-1 for BAGEL's ``[tokens, C]``, 1 for
``[B, C, H, W]`` images).
Arithmetic is float32; the output has the inputs' dtype (float16/bfloat16/float32).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

from . import dispatch
from ._triton import check_out, jit, tl, triton

RenormMode = Literal["global", "channel", "text_channel"]
RENORM_MODES: tuple[str, ...] = get_args(RenormMode)
DTYPES = (torch.float16, torch.bfloat16, torch.float32)
NORM_EPS = 1e-8  # BAGEL's constant in the renorm denominator
MAX_COLS = 65536


@jit
def _cfg_rows_kernel(
    c_ptr,
    t_ptr,
    i_ptr,
    out_ptr,
    n_rows,
    n_cols,
    inner,
    text_scale,
    img_scale,
    renorm_min,
    USE_IMG: tl.constexpr,
    TEXT_CHANNEL: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    # ``channel`` and ``text_channel``: whole rows per program, one read of each input. The
    # tensor is [outer, n_cols, inner] (channels at stride ``inner``); a row is one (outer,
    # inner) position, so channels-last (inner = 1) rows are contiguous.
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_C)
    mask = (rows < n_rows)[:, None] & (cols < n_cols)[None, :]
    r64 = rows.to(tl.int64)
    base = (r64 // inner) * n_cols * inner + r64 % inner
    offs = base[:, None] + cols.to(tl.int64)[None, :] * inner
    c = tl.load(c_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    t = tl.load(t_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    a = t + text_scale * (c - t)
    if USE_IMG:
        u = tl.load(i_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        if not TEXT_CHANNEL:
            a = u + img_scale * (a - u)
    norm_c = tl.sqrt(tl.sum(c * c, axis=1))
    norm_a = tl.sqrt(tl.sum(a * a, axis=1))
    scale = tl.minimum(tl.maximum(norm_c / (norm_a + 1e-8), renorm_min), 1.0)
    out = a * scale[:, None]
    if TEXT_CHANNEL and USE_IMG:
        out = u + img_scale * (out - u)
    tl.store(out_ptr + offs, out.to(out_ptr.dtype.element_ty), mask=mask)


@jit
def _guided_block(c_ptr, t_ptr, i_ptr, n_per_sample, text_scale, img_scale,
                  USE_IMG: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    # This program's block (axis 0) of one sample (axis 1) for ``global``'s two passes: the
    # conditional velocity and the guided one in float32 (both passes recompute it the same
    # way, so the rounding matches), with the offsets and mask of the block.
    blk = tl.program_id(0)
    sample = tl.program_id(1)
    idx = blk * BLOCK + tl.arange(0, BLOCK)
    mask = idx < n_per_sample
    offs = sample.to(tl.int64) * n_per_sample + idx
    c = tl.load(c_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    t = tl.load(t_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    a = t + text_scale * (c - t)
    if USE_IMG:
        u = tl.load(i_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        a = u + img_scale * (a - u)
    return c, a, offs, mask


@jit
def _cfg_global_sums_kernel(
    c_ptr,
    t_ptr,
    i_ptr,
    partial_ptr,
    n_per_sample,
    text_scale,
    img_scale,
    USE_IMG: tl.constexpr,
    BLOCK: tl.constexpr,
):
    # Pass 1 of ``global``: per-block sums of |c|^2 and |a|^2; partial is [S, n_blocks, 2].
    c, a, offs, mask = _guided_block(
        c_ptr, t_ptr, i_ptr, n_per_sample, text_scale, img_scale, USE_IMG, BLOCK
    )
    base = (tl.program_id(1) * tl.num_programs(0) + tl.program_id(0)) * 2
    tl.store(partial_ptr + base, tl.sum(c * c, axis=0))
    tl.store(partial_ptr + base + 1, tl.sum(a * a, axis=0))


@jit
def _cfg_global_scale_kernel(partial_ptr, scale_ptr, n_blocks, renorm_min, BLOCK: tl.constexpr):
    # Reduce one sample's partial sums in a fixed order (deterministic), then the scale.
    sample = tl.program_id(0)
    acc_c = tl.zeros([BLOCK], dtype=tl.float32)
    acc_a = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_blocks, BLOCK):
        j = start + tl.arange(0, BLOCK)
        m = j < n_blocks
        base = (sample * n_blocks + j) * 2
        acc_c += tl.load(partial_ptr + base, mask=m, other=0.0)
        acc_a += tl.load(partial_ptr + base + 1, mask=m, other=0.0)
    norm_c = tl.sqrt(tl.sum(acc_c, axis=0))
    norm_a = tl.sqrt(tl.sum(acc_a, axis=0))
    scale = tl.minimum(tl.maximum(norm_c / (norm_a + 1e-8), renorm_min), 1.0)
    tl.store(scale_ptr + sample, scale)


@jit
def _cfg_global_apply_kernel(
    c_ptr,
    t_ptr,
    i_ptr,
    scale_ptr,
    out_ptr,
    n_per_sample,
    text_scale,
    img_scale,
    USE_IMG: tl.constexpr,
    BLOCK: tl.constexpr,
):
    # Pass 2 of ``global``: recompute ``a`` (rounding once, like the reference) and scale it.
    c, a, offs, mask = _guided_block(
        c_ptr, t_ptr, i_ptr, n_per_sample, text_scale, img_scale, USE_IMG, BLOCK
    )
    scale = tl.load(scale_ptr + tl.program_id(1))
    tl.store(out_ptr + offs, (a * scale).to(out_ptr.dtype.element_ty), mask=mask)


def _clamp_scale(norm_c: torch.Tensor, norm_a: torch.Tensor, renorm_min: float) -> torch.Tensor:
    return (norm_c / (norm_a + NORM_EPS)).clamp(min=renorm_min, max=1.0)


def cfg_combine_reference(
    v_cond: torch.Tensor,
    v_uncond_text: torch.Tensor,
    v_uncond_img: torch.Tensor | None,
    text_scale: float,
    img_scale: float = 1.0,
    renorm_mode: str = "global",
    renorm_min: float = 0.0,
    apply_cfg: bool = True,
    per_sample: bool = False,
    channel_dim: int = -1,
) -> torch.Tensor:
    """BAGEL's CFG combine in eager PyTorch (float32 math): the spec. Arguments as :func:`cfg_combine`."""
    text_scale, img_scale, use_img = _resolve(
        v_cond, v_uncond_text, v_uncond_img, text_scale, img_scale, renorm_mode, apply_cfg
    )
    cd = _channel_dim(v_cond, channel_dim)
    if text_scale <= 1.0:
        return v_cond
    c, t = v_cond.float(), v_uncond_text.float()
    u = v_uncond_img.float() if use_img else None
    a = t + text_scale * (c - t)
    if renorm_mode == "text_channel":
        a = a * _clamp_scale(c.norm(dim=cd, keepdim=True), a.norm(dim=cd, keepdim=True), renorm_min)
        out = u + img_scale * (a - u) if use_img else a
        return out.to(v_cond.dtype)
    if use_img:
        a = u + img_scale * (a - u)
    if renorm_mode == "channel":
        norm_c, norm_a = c.norm(dim=cd, keepdim=True), a.norm(dim=cd, keepdim=True)
    elif per_sample and c.dim() > 1:
        dims = tuple(range(1, c.dim()))
        shape = (-1,) + (1,) * (c.dim() - 1)
        norm_c = torch.linalg.vector_norm(c, dim=dims).reshape(shape)
        norm_a = torch.linalg.vector_norm(a, dim=dims).reshape(shape)
    else:
        norm_c, norm_a = torch.linalg.vector_norm(c), torch.linalg.vector_norm(a)
    return (a * _clamp_scale(norm_c, norm_a, renorm_min)).to(v_cond.dtype)


def _channel_dim(v: torch.Tensor, channel_dim: int) -> int:
    if not -v.dim() <= channel_dim < v.dim():
        raise ValueError(
            f"cfg_combine: channel_dim {channel_dim} out of range for shape {tuple(v.shape)}"
        )
    return channel_dim % v.dim()


def _resolve(
    v_cond: torch.Tensor,
    v_uncond_text: torch.Tensor,
    v_uncond_img: torch.Tensor | None,
    text_scale: float,
    img_scale: float,
    renorm_mode: str,
    apply_cfg: bool,
) -> tuple[float, float, bool]:
    """Validate, apply BAGEL's cfg interval gate; returns (text_scale, img_scale, use_img)."""
    if renorm_mode not in RENORM_MODES:
        raise ValueError(
            f"cfg_combine: unknown renorm_mode {renorm_mode!r}. Available: {', '.join(RENORM_MODES)}"
        )
    if v_cond.dtype not in DTYPES:
        raise ValueError(f"cfg_combine: dtype {v_cond.dtype} not supported; use one of {DTYPES}")
    if v_cond.dim() < 1 or v_cond.numel() == 0:
        raise ValueError(
            f"cfg_combine: v_cond must be non-empty [..., C], got {tuple(v_cond.shape)}"
        )
    if not apply_cfg:  # BAGEL: outside cfg_interval both scales become 1.0
        text_scale, img_scale = 1.0, 1.0
    use_img = text_scale > 1.0 and img_scale > 1.0
    named = [("v_uncond_text", v_uncond_text)]
    if use_img:
        if v_uncond_img is None:
            raise ValueError(f"cfg_combine: img_scale={img_scale} > 1 needs v_uncond_img, got None")
        named.append(("v_uncond_img", v_uncond_img))
    for name, v in named:
        if v.shape != v_cond.shape or v.dtype != v_cond.dtype or v.device != v_cond.device:
            raise ValueError(
                f"cfg_combine: {name} is {tuple(v.shape)} {v.dtype} on {v.device}; it must match "
                f"v_cond {tuple(v_cond.shape)} {v_cond.dtype} on {v_cond.device}"
            )
    return float(text_scale), float(img_scale), use_img


def _launch_rows(
    c, t, u, text_scale, img_scale, text_channel, renorm_min, channel_dim, out
) -> None:
    n_cols = c.shape[channel_dim]
    inner = 1
    for size in c.shape[channel_dim + 1 :]:
        inner *= size
    n_rows = c.numel() // n_cols
    block_c = triton.next_power_of_2(n_cols)
    block_r = max(1, min(64, 4096 // block_c, triton.next_power_of_2(n_rows)))
    _cfg_rows_kernel[(triton.cdiv(n_rows, block_r),)](
        c,
        t,
        u if u is not None else c,
        out,
        n_rows,
        n_cols,
        inner,
        text_scale,
        img_scale,
        float(renorm_min),
        USE_IMG=u is not None,
        TEXT_CHANNEL=text_channel,
        BLOCK_R=block_r,
        BLOCK_C=block_c,
        num_warps=min(16, max(1, block_r * block_c // 512)),
    )


def _launch_global(c, t, u, text_scale, img_scale, renorm_min, n_samples, out) -> None:
    per = c.numel() // n_samples
    block = min(4096, triton.next_power_of_2(per))
    n_blocks = triton.cdiv(per, block)
    grid = (n_blocks, n_samples)
    partial = torch.empty((n_samples, n_blocks, 2), dtype=torch.float32, device=c.device)
    scale = torch.empty((n_samples,), dtype=torch.float32, device=c.device)
    uu = u if u is not None else c
    warps = min(8, max(1, block // 512))
    _cfg_global_sums_kernel[grid](
        c,
        t,
        uu,
        partial,
        per,
        text_scale,
        img_scale,
        USE_IMG=u is not None,
        BLOCK=block,
        num_warps=warps,
    )
    _cfg_global_scale_kernel[(n_samples,)](
        partial,
        scale,
        n_blocks,
        float(renorm_min),
        BLOCK=min(1024, triton.next_power_of_2(n_blocks)),
    )
    _cfg_global_apply_kernel[grid](
        c,
        t,
        uu,
        scale,
        out,
        per,
        text_scale,
        img_scale,
        USE_IMG=u is not None,
        BLOCK=block,
        num_warps=warps,
    )


def cfg_combine(
    v_cond: torch.Tensor,
    v_uncond_text: torch.Tensor,
    v_uncond_img: torch.Tensor | None,
    text_scale: float,
    img_scale: float = 1.0,
    renorm_mode: str = "global",
    renorm_min: float = 0.0,
    apply_cfg: bool = True,
    per_sample: bool = False,
    channel_dim: int = -1,
    *,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Combine the CFG branches' velocities as BAGEL does (Triton or reference, per dispatch).

    Args:
        v_cond: Conditional velocity ``[..., C]``, float16/bfloat16/float32.
        v_uncond_text: Velocity without the text condition; same shape/dtype/device.
        v_uncond_img: Velocity without the image condition (editing), or None. Used only
            when ``img_scale > 1`` (then it is required).
        text_scale: BAGEL's ``cfg_text_scale``; ``<= 1`` means no guidance at all.
        img_scale: BAGEL's ``cfg_img_scale``; ``<= 1`` means no image guidance.
        renorm_mode: ``"global"``, ``"channel"`` or ``"text_channel"`` (``cfg_renorm_type``).
        renorm_min: Lower bound of the renorm scale (``cfg_renorm_min``); the upper is 1.
        apply_cfg: Whether the step's ``t`` is inside ``cfg_interval`` (``lo < t <= hi``);
            False sets both scales to 1, so ``v_cond`` comes back unchanged.
        per_sample: ``global`` only: norms per index of dim 0 instead of over everything.
        channel_dim: The channel axis of ``channel``/``text_channel`` norms: -1 for BAGEL's
            ``[tokens, C]``, 1 for ``[B, C, H, W]`` images (no copy either way).
        out: Optional contiguous output buffer of ``v_cond``'s shape and dtype.

    Returns:
        The guided velocity (``out``, or a new tensor); with no guidance (``text_scale <= 1``
        after the interval gate) ``v_cond`` itself, or ``out`` holding a copy of it.

    Raises:
        ValueError: Unknown mode, unsupported dtype, mismatched inputs, or a missing
            ``v_uncond_img`` while ``img_scale > 1``.
    """
    ts, ims, use_img = _resolve(
        v_cond, v_uncond_text, v_uncond_img, text_scale, img_scale, renorm_mode, apply_cfg
    )
    cd = _channel_dim(v_cond, channel_dim)
    if out is not None:
        check_out("cfg_combine", "out", out, v_cond.shape, v_cond.dtype, v_cond.device)
    if ts <= 1.0:
        return v_cond if out is None else out.copy_(v_cond)
    tensors = [v_cond, v_uncond_text] + ([v_uncond_img] if use_img else [])
    rows_mode = renorm_mode != "global"
    too_wide = rows_mode and v_cond.shape[cd] > MAX_COLS
    unsupported = f"rows of {v_cond.shape[cd]} elements exceed {MAX_COLS}" if too_wide else None
    if dispatch.choose("cfg_combine", tensors, unsupported) == "reference":
        ref = cfg_combine_reference(
            v_cond,
            v_uncond_text,
            v_uncond_img,
            ts,
            ims,
            renorm_mode,
            renorm_min,
            True,
            per_sample,
            cd,
        )
        return ref if out is None else out.copy_(ref)
    if out is None:
        out = torch.empty(v_cond.shape, dtype=v_cond.dtype, device=v_cond.device)
    c, t = v_cond.contiguous(), v_uncond_text.contiguous()
    u = v_uncond_img.contiguous() if use_img else None
    if rows_mode:
        _launch_rows(c, t, u, ts, ims, renorm_mode == "text_channel", renorm_min, cd, out)
    else:
        n_samples = v_cond.shape[0] if per_sample and v_cond.dim() > 1 else 1
        _launch_global(c, t, u, ts, ims, renorm_min, n_samples, out)
    return out

"""Model-agnostic flow-matching sampling: BAGEL's shifted timestep schedule, CFG, Euler.

Conventions (BAGEL, ``modeling/bagel/bagel.py`` ``generate_image``): time runs from 1
(pure noise) to 0 (data), ``x_t = (1 - t) * x0 + t * noise``, the network predicts the
velocity ``noise - x0`` and an Euler step is ``x <- x - (t_i - t_{i+1}) * v``.

* Schedule: ``t = linspace(1, 0, num_timesteps)``, then ``t <- shift*t / (1 + (shift-1)*t)``;
  steps go between consecutive times and the final time 0 is never evaluated, so
  ``num_timesteps = 50`` is 49 network evaluations per branch.
* Guidance: inside ``cfg_interval`` (``lo < t <= hi``) the text-unconditional branch (and
  for editing the image-unconditional branch) runs; outside it only the conditional one.
  BAGEL's ``_forward_flow`` runs each branch as its own forward pass
  (``Guidance.batch_branches=False``); ``True`` stacks the branches into one batched call.
  Either way a profiler's forward hooks see ``rows = branches * images`` NFE per step
  (BAGEL's accounting); only the number of calls differs.
* :func:`combine_cfg` merges the branch velocities with BAGEL's exact semantics and arithmetic
  (``global`` / ``channel`` / ``text_channel`` renormalisation, in the velocities' dtype): the
  baselines' combine. :func:`combine_fused` is the same combine through the fused kernel
  (float32 arithmetic), for accelerated samplers (``Guidance.fused``).

The model is any callable ``velocity(x, t, branches) -> v`` where ``x`` is ``(B, ...)``,
``t`` is ``(B,)`` and the result stacks the branches branch-major: ``(len(branches)*B, ...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import torch

from hbench.kernels.cfg import cfg_combine

COND, NO_TEXT, NO_IMAGE = "cond", "no_text", "no_image"
RENORM_TYPES: tuple[str, ...] = ("global", "channel", "text_channel")


class VelocityModel(Protocol):
    """A denoiser seen by the sampler: one call evaluates the given CFG branches."""

    def __call__(self, x: torch.Tensor, t: torch.Tensor, branches: Sequence[str]) -> torch.Tensor:
        """Velocities for every branch, stacked branch-major ``(len(branches) * B, ...)``."""


def shift_times(t: torch.Tensor, shift: float) -> torch.Tensor:
    """BAGEL's timestep shift ``shift*t / (1 + (shift-1)*t)`` of times ``t`` in [0, 1]."""
    return shift * t / (1.0 + (shift - 1.0) * t)


@dataclass(frozen=True)
class FlowSchedule:
    """BAGEL's shifted linear schedule.

    Args:
        num_timesteps: points of ``linspace(1, 0, n)``; ``n - 1`` Euler steps are taken.
        shift: timestep shift (BAGEL: 3.0; 1.0 = unshifted).
    """

    num_timesteps: int = 50
    shift: float = 3.0

    def __post_init__(self) -> None:
        if self.num_timesteps < 2:
            raise ValueError(f"num_timesteps must be >= 2 (one step), got {self.num_timesteps}")
        if self.shift <= 0:
            raise ValueError(f"shift must be > 0, got {self.shift}")

    @property
    def steps(self) -> int:
        return self.num_timesteps - 1

    def times(self) -> torch.Tensor:
        """All ``num_timesteps`` shifted times, from 1 down to 0 (float64 for exactness)."""
        t = torch.linspace(1.0, 0.0, self.num_timesteps, dtype=torch.float64)
        return shift_times(t, self.shift)


@dataclass(frozen=True)
class Guidance:
    """Classifier-free guidance settings in BAGEL's terms.

    Args:
        text_scale: ``cfg_text_scale`` (1.0 = no text guidance).
        img_scale: ``cfg_img_scale`` (1.0 = no image guidance; editing only).
        interval: ``cfg_interval``; guidance is on where ``interval[0] < t <= interval[1]``.
        renorm_type: ``global`` (per sample, all elements), ``channel`` (per position over
            channels) or ``text_channel`` (channel renorm of the text-guided velocity only).
        renorm_min: lower clamp of the renormalisation factor (upper clamp is 1.0).
        batch_branches: evaluate a step's branches in one batched call (True) or one call
            per branch as BAGEL's loop does (False). Same NFE and, up to float rounding, the
            same velocities; on a CPU a two-row call costs 1.6-1.8x a one-row call, so the
            batched sampler is faster than BAGEL's.
        fused: combine with the fused kernel (:func:`combine_fused`, float32 arithmetic)
            instead of BAGEL's own arithmetic (:func:`combine_cfg`); an acceleration, never
            a baseline's setting.
    """

    text_scale: float = 1.0
    img_scale: float = 1.0
    interval: tuple[float, float] = (0.0, 1.0)
    renorm_type: str = "global"
    renorm_min: float = 0.0
    batch_branches: bool = True
    fused: bool = False

    def __post_init__(self) -> None:
        if self.renorm_type not in RENORM_TYPES:
            raise ValueError(
                f"renorm_type {self.renorm_type!r} unknown; expected one of {', '.join(RENORM_TYPES)}"
            )
        if self.img_scale > 1.0 and self.text_scale <= 1.0:
            # BAGEL applies image guidance only inside the text-guidance branch.
            raise ValueError(
                "img_scale > 1 needs text_scale > 1 (BAGEL combines them in that order)"
            )

    def branches_at(self, t: float) -> tuple[str, ...]:
        """Branches the model must evaluate at time ``t``."""
        if not (self.interval[0] < t <= self.interval[1]) or self.text_scale <= 1.0:
            return (COND,)
        return (COND, NO_TEXT, NO_IMAGE) if self.img_scale > 1.0 else (COND, NO_TEXT)


def _combine_one(
    v: torch.Tensor,
    v_no_text: torch.Tensor,
    v_no_image: torch.Tensor | None,
    text_scale: float,
    img_scale: float,
    renorm_type: str,
    renorm_min: float,
    dim: int,
) -> torch.Tensor:
    # BAGEL's ``_forward_flow`` combine for one image, op for op and in the inputs' dtype
    # (bfloat16 under the eval scripts' autocast): ``torch.norm`` over everything for
    # ``global``, over ``dim`` for the channel norms.
    if renorm_type == "text_channel":
        v_text_ = v_no_text + text_scale * (v - v_no_text)
        norm_v = torch.norm(v, dim=dim, keepdim=True)
        norm_v_text_ = torch.norm(v_text_, dim=dim, keepdim=True)
        scale = (norm_v / (norm_v_text_ + 1e-8)).clamp(min=renorm_min, max=1.0)
        v_text = v_text_ * scale
        if img_scale > 1.0:
            return v_no_image + img_scale * (v_text - v_no_image)
        return v_text
    v_text_ = v_no_text + text_scale * (v - v_no_text)
    v_ = v_no_image + img_scale * (v_text_ - v_no_image) if img_scale > 1.0 else v_text_
    if renorm_type == "global":
        norm_v, norm_v_ = torch.norm(v), torch.norm(v_)
    else:
        norm_v = torch.norm(v, dim=dim, keepdim=True)
        norm_v_ = torch.norm(v_, dim=dim, keepdim=True)
    scale = (norm_v / (norm_v_ + 1e-8)).clamp(min=renorm_min, max=1.0)
    return v_ * scale


def _image_velocity(v_no_image: torch.Tensor | None, img_scale: float) -> torch.Tensor | None:
    """``v_no_image`` when image guidance is on (``img_scale > 1``), else None.

    Both combines use it, so a missing image-unconditional velocity fails the same way.
    """
    if img_scale <= 1.0:
        return None
    if v_no_image is None:
        raise ValueError("img_scale > 1 needs the image-unconditional velocity v_no_image")
    return v_no_image


def combine_cfg(
    v: torch.Tensor,
    v_no_text: torch.Tensor,
    v_no_image: torch.Tensor | None,
    text_scale: float,
    img_scale: float = 1.0,
    renorm_type: str = "global",
    renorm_min: float = 0.0,
    channel_dim: int = 1,
) -> torch.Tensor:
    """BAGEL's CFG combine of the conditional and unconditional velocities, as BAGEL computes it.

    The baselines' combine: the arithmetic of ``Bagel._forward_flow`` in the inputs' dtype, one
    image at a time (BAGEL runs batch 1 and its ``global`` norm spans the whole tensor), so a
    bfloat16 velocity is combined in bfloat16 exactly as the official code does. The fused
    kernel (:func:`hbench.kernels.cfg.cfg_combine`, float32 arithmetic) is the accelerated
    variants' path (``Guidance.fused``), compared against this one like any acceleration.

    Batch dimension 0 is per sample; ``channel_dim`` is the latent-channel axis
    (``-1`` for BAGEL's ``(tokens, channels)`` layout, ``1`` for ``(B, C, H, W)`` images).

    Args:
        v: conditional velocity.
        v_no_text: velocity without the text condition (``cfg_text_v_t``).
        v_no_image: velocity without the image condition (``cfg_img_v_t``), or None.
        text_scale: ``cfg_text_scale``; at most 1 means no guidance (``v`` is returned).
        img_scale: ``cfg_img_scale``; used only when > 1 (needs ``v_no_image``).
        renorm_type: ``global``, ``channel`` or ``text_channel``.
        renorm_min: lower clamp of the renorm factor.

    Returns:
        The guided velocity, same shape as ``v``.
    """
    v_img = _image_velocity(v_no_image, img_scale)
    if renorm_type not in RENORM_TYPES:
        raise ValueError(
            f"renorm_type {renorm_type!r} unknown; expected one of {', '.join(RENORM_TYPES)}"
        )
    if text_scale <= 1.0:  # BAGEL combines only under text guidance
        return v
    # Channel axis of one sample (dim 0 removed).
    dim = channel_dim - 1 if channel_dim > 0 else channel_dim
    return torch.stack([
        _combine_one(
            v[i], v_no_text[i], None if v_img is None else v_img[i], text_scale,
            img_scale, renorm_type, renorm_min, dim,
        )
        for i in range(v.shape[0])
    ])  # fmt: skip


def combine_fused(
    v: torch.Tensor,
    v_no_text: torch.Tensor,
    v_no_image: torch.Tensor | None,
    text_scale: float,
    img_scale: float = 1.0,
    renorm_type: str = "global",
    renorm_min: float = 0.0,
    channel_dim: int = 1,
) -> torch.Tensor:
    """:func:`combine_cfg` through the dispatched fused kernel (Triton on CUDA, else its
    float32 PyTorch reference): the accelerated path. Arguments as :func:`combine_cfg`."""
    return cfg_combine(
        v, v_no_text, _image_velocity(v_no_image, img_scale), text_scale, img_scale,
        renorm_type, renorm_min, apply_cfg=True, per_sample=True, channel_dim=channel_dim,
    )  # fmt: skip


@dataclass
class SamplerStats:
    """What the sampler did (declared; the profiler counts NFE itself with hooks)."""

    calls: int = 0
    rows: int = 0
    branches_per_step: list[int] = field(default_factory=list)


def guided_velocity(
    model: VelocityModel,
    x: torch.Tensor,
    t: float,
    guidance: Guidance,
    stats: SamplerStats | None = None,
) -> torch.Tensor:
    """Velocities of every active branch at ``t`` (one call, or one per branch), combined
    with :func:`combine_cfg` (:func:`combine_fused` when ``guidance.fused``)."""
    branches = guidance.branches_at(t)
    b = x.shape[0]
    tt = torch.full((b,), float(t), dtype=x.dtype, device=x.device)
    if guidance.batch_branches or len(branches) == 1:
        out, calls = model(x, tt, branches), 1
    else:
        out, calls = torch.cat([model(x, tt, (br,)) for br in branches]), len(branches)
    if stats is not None:
        stats.calls += calls
        stats.rows += len(branches) * b
        stats.branches_per_step.append(len(branches))
    if len(branches) == 1:
        return out
    parts = dict(zip(branches, out.split(b), strict=True))
    combine = combine_fused if guidance.fused else combine_cfg
    return combine(
        parts[COND], parts[NO_TEXT], parts.get(NO_IMAGE), guidance.text_scale,
        guidance.img_scale, guidance.renorm_type, guidance.renorm_min,
    )  # fmt: skip


@torch.no_grad()
def sample_euler(
    model: VelocityModel,
    noise: torch.Tensor,
    schedule: FlowSchedule,
    guidance: Guidance = Guidance(),
    stats: SamplerStats | None = None,
) -> torch.Tensor:
    """Integrate from ``noise`` at t=1 to t=0 with Euler steps on the shifted schedule."""
    times = schedule.times().tolist()
    x = noise
    for t, t_next in zip(times[:-1], times[1:], strict=True):
        v = guided_velocity(model, x, t, guidance, stats)
        x = x - (t - t_next) * v
    return x


def describe(schedule: FlowSchedule, guidance: Guidance) -> dict:
    """JSON-able description of a sampler configuration (for run manifests)."""
    return {
        "sampler": "euler",
        **asdict(schedule),
        "steps": schedule.steps,
        "guidance": asdict(guidance),
    }

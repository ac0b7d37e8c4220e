"""BAGEL's sampler schedule as data, and the NFE it costs (a pure function).

Source of truth: ``Bagel.generate_image`` and ``Bagel._forward_flow`` in the official
``modeling/bagel/bagel.py`` (ByteDance-Seed/Bagel). What they do, step by step:

1. ``timesteps = linspace(1, 0, num_timesteps)`` (float32, on the device), then the shift
   ``t <- shift * t / (1 + (shift - 1) * t)``; ``dts = t[:-1] - t[1:]`` and the last time
   (t = 0) is *dropped*: ``num_timesteps - 1`` Euler steps, one per remaining time.
2. Interval gate per step: guidance is on where ``t > cfg_interval[0] and t <= cfg_interval[1]``
   (a float32 tensor compared with Python floats, so the bounds are rounded to float32);
   outside it both scales are set to 1.0.
3. ``_forward_flow`` always runs the conditional branch; it runs the text-unconditional
   branch ``if cfg_text_scale > 1.0`` and the image-unconditional branch
   ``if cfg_img_scale > 1.0`` (independently: an image branch with ``cfg_text_scale <= 1``
   still runs, its output is unused). Each branch is a *separate*
   ``language_model.forward_inference`` call, so merged calls equal NFE.

The official evaluation settings (``eval/gen/gen_images_mp.py`` for GenEval and
``eval/gen/gedit/gen_images_gedit.py`` for GEdit-Bench, with the values the shell scripts
pass) are :data:`GENEVAL` and :data:`GEDIT`; their hook-counted NFE is 98 and 131.

The Hyper-Bagel paper's baseline figures (100 for T2I, 132 for editing) are reproduced by
one consistent reading, :func:`nfe` with ``accounting="paper"``: every one of the
``num_timesteps`` points is evaluated (the last, t = 0, is not dropped) and the interval is
closed at its lower end (``lo <= t <= hi``). T2I: 50 x 2 = 100; editing: 41 points with
t > 0.4 run three branches, the other 9 one: 41 x 3 + 9 = 132. This is our reconstruction of
the paper's accounting; the official code never evaluates t = 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

COND, NO_TEXT, NO_IMAGE = "cond", "no_text", "no_image"
RenormType = Literal["global", "channel", "text_channel"]


@dataclass(frozen=True)
class SamplerConfig:
    """One flow-matching sampler configuration in BAGEL's own terms.

    Attributes:
        num_timesteps: Points of ``linspace(1, 0, n)``; ``n - 1`` Euler steps run.
        timestep_shift: BAGEL's ``timestep_shift`` (1.0 = unshifted).
        cfg_text_scale: ``cfg_text_scale``; the text-unconditional branch runs when > 1.
        cfg_img_scale: ``cfg_img_scale``; the image-unconditional branch runs when > 1.
        cfg_interval: ``cfg_interval``; guidance where ``lo < t <= hi``.
        cfg_renorm_type: ``global``, ``channel`` or ``text_channel``.
        cfg_renorm_min: Lower clamp of the renorm factor (upper is 1.0).
        timesteps: Explicit decreasing times (first 1.0 or below, last 0.0) for distilled
            students; when given they replace ``linspace`` + shift (the last is still dropped).
    """

    num_timesteps: int = 50
    timestep_shift: float = 3.0
    cfg_text_scale: float = 4.0
    cfg_img_scale: float = 1.0
    cfg_interval: tuple[float, float] = (0.0, 1.0)
    cfg_renorm_type: RenormType = "global"
    cfg_renorm_min: float = 0.0
    timesteps: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cfg_interval", tuple(float(v) for v in self.cfg_interval))
        object.__setattr__(self, "timesteps", tuple(float(v) for v in self.timesteps))
        if self.num_timesteps < 2:
            raise ValueError(
                f"num_timesteps must be >= 2 (one Euler step), got {self.num_timesteps}"
            )
        if self.timestep_shift <= 0:
            raise ValueError(f"timestep_shift must be > 0, got {self.timestep_shift}")
        if len(self.cfg_interval) != 2 or not self.cfg_interval[0] <= self.cfg_interval[1]:
            raise ValueError(
                f"cfg_interval must be [lo, hi] with lo <= hi, got {list(self.cfg_interval)}"
            )
        if self.cfg_renorm_type not in ("global", "channel", "text_channel"):
            raise ValueError(
                f"cfg_renorm_type must be global, channel or text_channel, got {self.cfg_renorm_type!r}"
            )
        if not 0.0 <= self.cfg_renorm_min <= 1.0:
            raise ValueError(f"cfg_renorm_min must be in [0, 1], got {self.cfg_renorm_min}")
        if self.cfg_text_scale <= 0 or self.cfg_img_scale <= 0:
            raise ValueError("cfg_text_scale and cfg_img_scale must be > 0")
        ts = self.timesteps
        if ts:
            if (
                len(ts) < 2
                or ts[-1] != 0.0
                or not all(a > b for a, b in zip(ts[:-1], ts[1:], strict=True))
            ):
                raise ValueError(f"timesteps must decrease strictly and end at 0.0, got {list(ts)}")
            if ts[0] > 1.0:
                raise ValueError(f"timesteps must start at or below 1.0, got {ts[0]}")

    @property
    def steps(self) -> int:
        """Euler steps (= network evaluations of the conditional branch)."""
        return (len(self.timesteps) if self.timesteps else self.num_timesteps) - 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for run manifests."""
        d = asdict(self)
        d["cfg_interval"] = list(self.cfg_interval)
        d["timesteps"] = list(self.timesteps)
        return d


# The official evaluation settings (see the module docstring for where each value is set).
GENEVAL = SamplerConfig(
    num_timesteps=50,  # gen_images_mp.py: num_timesteps = 50
    timestep_shift=3.0,  # timestep_shift = 3.0
    cfg_text_scale=4.0,  # argparse --cfg_scale default 4; run_geneval.sh does not pass it
    cfg_img_scale=1.0,  # generate_image's default (no image branch for T2I)
    cfg_interval=(0.0, 1.0),  # cfg_interval = [0, 1.0]
    cfg_renorm_type="global",  # not passed: generate_image's default
    cfg_renorm_min=0.0,  # cfg_renorm_min = 0.0
)
GEDIT = SamplerConfig(
    num_timesteps=50,  # editing_with_text_img_cfg default, not overridden
    timestep_shift=3.0,  # process_dataset passes timestep_shift=3.0
    cfg_text_scale=4.0,  # argparse --cfg_text_scale default 4.0; run_gedit.sh does not pass it
    cfg_img_scale=1.5,  # argparse --cfg_img_scale default 1.5
    cfg_interval=(0.4, 1.0),  # process_dataset passes cfg_interval=[0.4, 1.0]
    cfg_renorm_type="text_channel",  # process_dataset passes cfg_renorm_type="text_channel"
    cfg_renorm_min=0.0,
)
# Students: guidance is distilled into the weights (one branch); even steps on [1, 0].
NFE6 = SamplerConfig(num_timesteps=7, timestep_shift=3.0, cfg_text_scale=1.0)
NFE1 = SamplerConfig(num_timesteps=2, timestep_shift=1.0, cfg_text_scale=1.0)


def timesteps(config: SamplerConfig) -> Any:
    """All times of the schedule as BAGEL computes them (float32 tensor, 1 -> 0).

    Returns:
        ``[n]`` float32 tensor; the sampler evaluates the first ``n - 1``.
    """
    import torch

    from hbench.baselines.runtime.flow import shift_times

    if config.timesteps:
        return torch.tensor(config.timesteps, dtype=torch.float32)
    return shift_times(torch.linspace(1, 0, config.num_timesteps), config.timestep_shift)


def guided(config: SamplerConfig, t: Any, closed_low: bool = False) -> bool:
    """BAGEL's interval gate ``t > lo and t <= hi`` on a float32 time (bounds in float32).

    ``closed_low`` makes the lower bound inclusive (the paper accounting only).
    """
    import torch

    t = torch.as_tensor(t, dtype=torch.float32)
    lo, hi = config.cfg_interval
    above = bool(t >= lo) if closed_low else bool(t > lo)
    return above and bool(t <= hi)


def branches_at(config: SamplerConfig, t: Any, closed_low: bool = False) -> tuple[str, ...]:
    """The forward calls ``_forward_flow`` makes at time ``t`` (cond first)."""
    if not guided(config, t, closed_low):
        return (COND,)
    out = [COND]
    if config.cfg_text_scale > 1.0:
        out.append(NO_TEXT)
    if config.cfg_img_scale > 1.0:
        out.append(NO_IMAGE)
    return tuple(out)


@dataclass(frozen=True)
class NFECount:
    """What one image costs under a sampler configuration.

    Attributes:
        nfe: Generator forward evaluations (branches summed over steps).
        merged_calls: Forward calls when the active branches of a step run batched in one
            call (= steps); BAGEL's own loop makes ``nfe`` calls.
        steps: Evaluated times (Euler steps under the ``bagel`` accounting).
        guided_steps: Steps that run more than the conditional branch.
        per_step: Branches evaluated at each step.
    """

    nfe: int
    merged_calls: int
    steps: int
    guided_steps: int
    per_step: tuple[int, ...]


def nfe(config: SamplerConfig, accounting: Literal["bagel", "paper"] = "bagel") -> NFECount:
    """NFE of one image under ``config``, from BAGEL's schedule logic.

    Args:
        config: The sampler configuration.
        accounting: ``bagel``: what the official loop runs (``timesteps[:-1]``, gate
            ``lo < t <= hi``), equal to a faithful sampler's hook count. ``paper``: every
            schedule point with the gate ``lo <= t <= hi`` (module docstring).

    Returns:
        The counts.

    >>> [nfe(c, a).nfe for a in ("bagel", "paper") for c in (GENEVAL, GEDIT)]
    [98, 131, 100, 132]
    """
    if accounting not in ("bagel", "paper"):
        raise ValueError(f"accounting must be 'bagel' or 'paper', got {accounting!r}")
    times = timesteps(config)
    paper = accounting == "paper"
    evaluated = times if paper else times[:-1]
    per_step = tuple(len(branches_at(config, t, closed_low=paper)) for t in evaluated)
    return NFECount(
        nfe=sum(per_step),
        merged_calls=len(per_step),
        steps=len(per_step),
        guided_steps=sum(1 for n in per_step if n > 1),
        per_step=per_step,
    )

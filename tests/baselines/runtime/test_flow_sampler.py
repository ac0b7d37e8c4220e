"""The flow-matching runtime: BAGEL's schedule, CFG combine semantics, NFE accounting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hbench.baselines.runtime.flow import (
    COND,
    NO_IMAGE,
    NO_TEXT,
    FlowSchedule,
    Guidance,
    SamplerStats,
    combine_cfg,
    sample_euler,
)


def test_schedule_matches_bagel_formula():
    sched = FlowSchedule(50, 3.0)
    t = torch.linspace(1, 0, 50, dtype=torch.float64)
    expected = 3.0 * t / (1 + 2.0 * t)
    assert torch.allclose(sched.times(), expected)
    assert sched.steps == 49
    assert sched.times()[0] == 1.0 and sched.times()[-1] == 0.0
    assert torch.allclose(
        FlowSchedule(5, 1.0).times(), torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=torch.float64)
    )


@pytest.mark.parametrize("bad", [dict(num_timesteps=1), dict(shift=0.0)])
def test_schedule_rejects_bad_settings(bad):
    with pytest.raises(ValueError):
        FlowSchedule(**bad)


def test_guidance_branches_follow_interval():
    g = Guidance(text_scale=4.0, img_scale=2.0, interval=(0.4, 1.0))
    assert g.branches_at(1.0) == (COND, NO_TEXT, NO_IMAGE)
    assert g.branches_at(0.4) == (COND,)  # BAGEL: t > lo is required
    assert Guidance(text_scale=4.0).branches_at(0.5) == (COND, NO_TEXT)
    assert Guidance().branches_at(0.5) == (COND,)
    with pytest.raises(ValueError, match="renorm_type"):
        Guidance(renorm_type="layer")


def _bagel_reference(v, vt, vi, ts, is_, kind, rmin):
    """BAGEL's combine written out for one sample in its (tokens, channels) layout."""
    if kind == "text_channel":
        vt_ = vt + ts * (v - vt)
        s = (v.norm(dim=-1, keepdim=True) / (vt_.norm(dim=-1, keepdim=True) + 1e-8)).clamp(
            rmin, 1.0
        )
        vt_ = vt_ * s
        return vi + is_ * (vt_ - vi) if is_ > 1 else vt_
    g = vt + ts * (v - vt)
    if is_ > 1:
        g = vi + is_ * (g - vi)
    if kind == "global":
        s = (v.norm() / (g.norm() + 1e-8)).clamp(rmin, 1.0)
    else:
        s = (v.norm(dim=-1, keepdim=True) / (g.norm(dim=-1, keepdim=True) + 1e-8)).clamp(rmin, 1.0)
    return g * s


@pytest.mark.parametrize("kind", ["global", "channel", "text_channel"])
@pytest.mark.parametrize("img_scale", [1.0, 2.0])
@pytest.mark.parametrize("rmin", [0.0, 0.7])
def test_combine_cfg_matches_bagel_per_sample(kind, img_scale, rmin):
    gen = torch.Generator().manual_seed(0)
    v, vt, vi = (torch.randn(3, 4, 5, 5, generator=gen) for _ in range(3))
    out = combine_cfg(v, vt, vi, 4.0, img_scale, kind, rmin, channel_dim=1)
    for b in range(3):
        # (C, H, W) -> (tokens, channels), BAGEL's layout
        def tok(x, b=b):
            return x[b].flatten(1).T

        ref = _bagel_reference(tok(v), tok(vt), tok(vi), 4.0, img_scale, kind, rmin)
        assert torch.allclose(tok(out), ref, atol=1e-5)


def test_combine_cfg_renorm_only_shrinks():
    v = torch.randn(2, 3, 4, 4)
    out = combine_cfg(v, torch.zeros_like(v), None, 4.0, renorm_type="global")
    # 4x the conditional velocity renormalised back to its norm (scale clamps at 1).
    assert torch.allclose(out, v, atol=1e-5)
    with pytest.raises(ValueError, match="v_no_image"):
        combine_cfg(v, v, None, 4.0, 2.0)


class _Affine(nn.Module):
    """A velocity field v = noise - x0 that is exact for straight paths to ``x0``."""

    def __init__(self, x0: torch.Tensor):
        super().__init__()
        self.x0 = x0

    def forward(self, x, t):
        return (x - self.x0) / t[:, None, None, None].clamp_min(1e-12)


class _Branches:
    def __init__(self, net):
        self.net = net

    def __call__(self, x, t, branches):
        n = len(branches)
        return self.net(x.repeat(n, 1, 1, 1), t.repeat(n))


def test_euler_follows_a_straight_path_exactly():
    x0 = torch.randn(2, 3, 4, 4)
    noise = torch.randn(2, 3, 4, 4)
    out = sample_euler(_Branches(_Affine(x0)), noise, FlowSchedule(7, 3.0))
    assert torch.allclose(out, x0, atol=1e-5)


@pytest.mark.parametrize(
    "guidance,per_step",
    [(Guidance(), 1), (Guidance(text_scale=4.0), 2), (Guidance(text_scale=4.0, img_scale=2.0), 3)],
)
def test_nfe_counted_by_forward_hooks_is_rows(guidance, per_step):
    net = _Affine(torch.zeros(1, 3, 4, 4))
    rows, calls = [], []

    def hook(module, args, output):
        rows.append(args[0].shape[0])
        calls.append(1)

    net.register_forward_hook(hook)
    stats = SamplerStats()
    sample_euler(_Branches(net), torch.randn(2, 3, 4, 4), FlowSchedule(50, 3.0), guidance, stats)
    assert len(calls) == 49 and sum(rows) == 49 * per_step * 2
    assert stats.rows == sum(rows) and stats.calls == 49


def test_cfg_interval_reduces_rows():
    sched = FlowSchedule(50, 3.0)
    g = Guidance(text_scale=4.0, interval=(0.4, 1.0))
    inside = sum(1 for t in sched.times()[:-1].tolist() if 0.4 < t <= 1.0)
    stats = SamplerStats()
    sample_euler(
        _Branches(_Affine(torch.zeros(1, 3, 2, 2))), torch.randn(1, 3, 2, 2), sched, g, stats
    )
    assert stats.rows == 2 * inside + (49 - inside)
    assert 0 < inside < 49


class _Labelled:
    """Branch-dependent velocities, so mixing up branch order or rows would show."""

    OFFSET = {COND: 0.0, NO_TEXT: 0.5, NO_IMAGE: -0.25}

    def __init__(self, net):
        self.net = net

    def __call__(self, x, t, branches):
        return torch.cat([self.net(x, t) + self.OFFSET[b] for b in branches])


@pytest.mark.parametrize("img_scale,per_step", [(1.0, 2), (2.0, 3)])
def test_per_branch_calls_match_batched_calls(img_scale, per_step):
    """BAGEL's loop (one forward per branch) and the batched call: same NFE, same sample."""
    torch.manual_seed(0)
    net = _Affine(torch.randn(2, 3, 4, 4))
    rows = []
    net.register_forward_hook(lambda m, a, o: rows.append(a[0].shape[0]))
    noise = torch.randn(2, 3, 4, 4)
    out = {}
    for batched in (True, False):
        rows.clear()
        g = Guidance(text_scale=4.0, img_scale=img_scale, batch_branches=batched)
        stats = SamplerStats()
        out[batched] = sample_euler(_Labelled(net), noise, FlowSchedule(50, 3.0), g, stats)
        assert sum(rows) == stats.rows == 49 * per_step * 2
        assert stats.calls == (49 if batched else 49 * per_step)
    assert torch.allclose(out[True], out[False], atol=1e-6)


def test_baseline_combine_keeps_bfloat16_arithmetic_and_fused_is_float32():
    # BAGEL combines bfloat16 velocities in bfloat16; the fused kernel works in float32 and
    # casts back. The baseline's combine must be the former (the official code's numbers).
    from hbench.baselines.runtime.flow import combine_cfg, combine_fused

    g = torch.Generator().manual_seed(0)
    c, t, i = (torch.randn(1, 64, 16, generator=g).bfloat16() for _ in range(3))
    for mode in ("global", "channel", "text_channel"):
        ours = combine_cfg(c, t, i, 4.0, 1.5, mode, 0.0, channel_dim=-1)
        a = t[0] + 4.0 * (c[0] - t[0])  # bfloat16 ops, as _forward_flow runs them
        if mode == "text_channel":
            s = (torch.norm(c[0], dim=-1, keepdim=True) / (torch.norm(a, dim=-1, keepdim=True) + 1e-8)).clamp(0.0, 1.0)  # fmt: skip
            want = i[0] + 1.5 * (a * s - i[0])
        else:
            a = i[0] + 1.5 * (a - i[0])
            dim = None if mode == "global" else -1
            nc = torch.norm(c[0]) if dim is None else torch.norm(c[0], dim=-1, keepdim=True)
            na = torch.norm(a) if dim is None else torch.norm(a, dim=-1, keepdim=True)
            want = a * (nc / (na + 1e-8)).clamp(0.0, 1.0)
        assert ours.dtype == torch.bfloat16 and torch.equal(ours[0], want)
        fused = combine_fused(c, t, i, 4.0, 1.5, mode, 0.0, channel_dim=-1)
        assert not torch.equal(fused, ours)  # float32 arithmetic rounds differently
        torch.testing.assert_close(fused.float(), ours.float(), atol=0.1, rtol=0.05)

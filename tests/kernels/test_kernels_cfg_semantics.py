"""cfg_combine mirrors BAGEL's generate_image / _forward_flow guidance, branch by branch.

``_bagel_step`` restates BAGEL's eager code path (modeling/bagel/bagel.py) in the model
dtype, including the cfg-interval gate in generate_image; the reference must agree with it
(exactly up to float32 rounding, within bf16 rounding in bf16), and the public op (which
dispatches to the reference on CPU) must behave the same at every branch.
"""

from __future__ import annotations

import pytest
import torch

from hbench.kernels import cfg, checks, dispatch


def _bagel_step(v, v_text, v_img, t, interval, text_scale, img_scale, mode, renorm_min):
    """BAGEL's guidance for one step at time t (eager, in the inputs' dtype)."""
    if not (t > interval[0] and t <= interval[1]):
        text_scale, img_scale = 1.0, 1.0
    if not text_scale > 1.0:
        return v
    if mode == "text_channel":
        a = v_text + text_scale * (v - v_text)
        s = (v.norm(dim=-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) + 1e-8)).clamp(
            min=renorm_min, max=1.0
        )
        a = a * s
        return v_img + img_scale * (a - v_img) if img_scale > 1.0 else a
    a = v_text + text_scale * (v - v_text)
    if img_scale > 1.0:
        a = v_img + img_scale * (a - v_img)
    if mode == "global":
        n_v, n_a = torch.norm(v), torch.norm(a)
    else:
        n_v, n_a = v.norm(dim=-1, keepdim=True), a.norm(dim=-1, keepdim=True)
    return a * (n_v / (n_a + 1e-8)).clamp(min=renorm_min, max=1.0)


def _inputs(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g).to(dtype) for _ in range(3)]


@pytest.mark.parametrize("mode", cfg.RENORM_MODES)
@pytest.mark.parametrize("img_scale", [1.0, 1.5])
@pytest.mark.parametrize("renorm_min", [0.0, 0.4, 1.2])
@pytest.mark.parametrize("t", [0.05, 0.5, 1.0])
def test_reference_equals_bagel_fp32(mode, img_scale, renorm_min, t) -> None:
    v, vt, vi = _inputs((37, 64), torch.float32, hash((mode, img_scale, renorm_min, t)) % 2**31)
    interval = (0.4, 1.0)  # BAGEL's default edit interval: guidance for 0.4 < t <= 1
    want = _bagel_step(v, vt, vi, t, interval, 4.0, img_scale, mode, renorm_min)
    apply = interval[0] < t <= interval[1]
    got = cfg.cfg_combine_reference(v, vt, vi, 4.0, img_scale, mode, renorm_min, apply_cfg=apply)
    torch.testing.assert_close(got, want, atol=2e-6, rtol=2e-6)
    if not apply:
        assert got is v  # BAGEL returns the conditional velocity itself outside the interval


@pytest.mark.parametrize("mode", cfg.RENORM_MODES)
def test_reference_within_bf16_rounding_of_bagel_bf16(mode) -> None:
    v, vt, vi = _inputs((19, 64), torch.bfloat16, 7)
    want = _bagel_step(v, vt, vi, 0.9, (0.0, 1.0), 4.0, 2.0, mode, 0.0)
    got = cfg.cfg_combine_reference(v, vt, vi, 4.0, 2.0, mode, 0.0)
    assert got.dtype == torch.bfloat16
    # BAGEL rounds after every bf16 op, the reference once at the end.
    torch.testing.assert_close(got.float(), want.float(), atol=0.1, rtol=0.05)


def test_no_text_guidance_means_no_guidance_at_all() -> None:
    v, vt, vi = _inputs((5, 8), torch.float32, 1)
    # BAGEL applies image guidance only inside the text-guidance branch.
    assert cfg.cfg_combine(v, vt, vi, text_scale=1.0, img_scale=3.0, renorm_mode="channel") is v
    assert cfg.cfg_combine(v, vt, None, text_scale=4.0, img_scale=3.0, apply_cfg=False) is v
    out = torch.full_like(v, float("nan"))
    assert cfg.cfg_combine(v, vt, None, 0.5, out=out) is out and torch.equal(out, v)


def test_renorm_bounds_act_as_torch_clamp() -> None:
    v, vt, _ = _inputs((6, 16), torch.float32, 2)
    a = vt + 4.0 * (v - vt)
    # min above max: torch.clamp gives max (1.0), so the output is the unscaled combination.
    got = cfg.cfg_combine_reference(v, vt, None, 4.0, 1.0, "channel", renorm_min=1.5)
    torch.testing.assert_close(got, a)
    scale = (v.norm(dim=-1) / a.norm(dim=-1)).clamp(max=1.0)
    assert (scale < 0.9).all(), "the draw should exercise renorm"
    got0 = cfg.cfg_combine_reference(v, vt, None, 4.0, 1.0, "channel", renorm_min=0.0)
    torch.testing.assert_close(got0.norm(dim=-1), v.norm(dim=-1), atol=1e-5, rtol=1e-5)


def test_per_sample_global_equals_one_call_per_image() -> None:
    v, vt, vi = _inputs((3, 10, 16), torch.float32, 3)
    batched = cfg.cfg_combine_reference(v, vt, vi, 3.0, 1.5, "global", 0.1, per_sample=True)
    for b in range(3):
        single = cfg.cfg_combine_reference(v[b], vt[b], vi[b], 3.0, 1.5, "global", 0.1)
        torch.testing.assert_close(batched[b], single)


@pytest.mark.parametrize("mode", ["channel", "text_channel"])
def test_channel_dim_equals_moving_channels_last(mode) -> None:
    v, vt, vi = _inputs((2, 3, 4, 5), torch.float32, 6)  # [B, C, H, W]
    got = cfg.cfg_combine_reference(v, vt, vi, 3.0, 1.5, mode, 0.1, channel_dim=1)
    last = [x.movedim(1, -1) for x in (v, vt, vi)]
    want = cfg.cfg_combine_reference(*last, 3.0, 1.5, mode, 0.1).movedim(-1, 1)
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="channel_dim 4 out of range"):
        cfg.cfg_combine(v, vt, vi, 3.0, channel_dim=4)


def test_bad_inputs_raise_clear_errors() -> None:
    v, vt, vi = _inputs((4, 8), torch.float32, 4)
    with pytest.raises(ValueError, match="unknown renorm_mode 'chanel'.*channel"):
        cfg.cfg_combine(v, vt, vi, 4.0, renorm_mode="chanel")
    with pytest.raises(ValueError, match="needs v_uncond_img"):
        cfg.cfg_combine(v, vt, None, 4.0, img_scale=2.0)
    with pytest.raises(ValueError, match="v_uncond_text is"):
        cfg.cfg_combine(v, vt[:2], None, 4.0)
    with pytest.raises(ValueError, match="dtype torch.float64"):
        cfg.cfg_combine(v.double(), vt.double(), None, 4.0)


def test_auto_on_cpu_runs_the_reference_and_says_why() -> None:
    v, vt, vi = _inputs((4, 8), torch.float32, 5)
    dispatch.reset_report()
    with dispatch.use_backend("auto"):
        got = cfg.cfg_combine(v, vt, vi, 4.0, 1.5, "text_channel", 0.2)
    torch.testing.assert_close(
        got, cfg.cfg_combine_reference(v, vt, vi, 4.0, 1.5, "text_channel", 0.2)
    )
    rep = dispatch.report()
    assert rep["ops"] == {"cfg_combine": {"reference": 1}}
    assert rep["fallbacks"][0]["reason"].startswith("the tensors are on cpu")
    assert checks.CHECKS["cfg_combine"]  # the grid exercises the Triton path itself

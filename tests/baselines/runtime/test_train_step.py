"""The shared optimizer step and warm-up cosine rate of the training loops."""

from __future__ import annotations

import math

import torch

from hbench.baselines.runtime.train_step import optimizer_step, warmup_cosine


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=1.0)
    x = torch.randn(8, 4) * 100  # large, so the gradient norm exceeds the clip
    return model, opt, x


def test_optimizer_step_is_set_rate_zero_backward_clip_step():
    model, opt, x = _setup()
    optimizer_step(opt, model(x).pow(2).mean(), model.parameters(), lr=0.01)
    manual, mopt, _ = _setup()
    for group in mopt.param_groups:
        group["lr"] = 0.01
    mopt.zero_grad(set_to_none=True)
    manual(x).pow(2).mean().backward()
    norm = torch.nn.utils.clip_grad_norm_(manual.parameters(), 1.0)
    mopt.step()
    assert norm > 1.0  # the clip did something
    assert opt.param_groups[0]["lr"] == 0.01
    for a, b in zip(model.parameters(), manual.parameters(), strict=True):
        assert torch.equal(a, b)


def test_warmup_cosine_rises_then_falls_to_zero():
    assert warmup_cosine(0, 100, 2.0, 10) == 2.0 * 0.1 * 0.5 * (1 + math.cos(0.0))
    assert warmup_cosine(9, 100, 2.0, 10) > warmup_cosine(50, 100, 2.0, 10)
    assert warmup_cosine(100, 100, 2.0, 10) == 0.0
    assert warmup_cosine(500, 100, 2.0, 10) == 0.0  # past the horizon it stays at zero

"""Profiler: NFE counted by hooks (batched CFG rows count), outermost-call timing."""

from __future__ import annotations

import torch

from hbench.harness.profiler import profile_sample


class Denoiser(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def test_nfe_counts_batched_cfg_rows_and_merged_calls():
    net = Denoiser()
    x = torch.randn(1, 4)
    with profile_sample({"generator": net}) as prof:
        for _ in range(50):  # CFG: cond + uncond in one batched call per step
            net(torch.cat([x, x]))
    d = prof.to_dict()
    assert d["nfe"] == 100 and d["merged_calls"] == 50
    assert d["modules"]["generator"]["calls"] == 50


def test_student_one_row_per_step_and_hooks_removed():
    net = Denoiser()
    with profile_sample({"generator": net}) as prof:
        for _ in range(6):
            net(torch.randn(1, 4))
    assert prof.to_dict()["nfe"] == 6
    net(torch.randn(1, 4))  # after the block: not counted
    assert prof.to_dict()["nfe"] == 6
    assert not net._forward_hooks and not net._forward_pre_hooks


def test_overhead_is_wall_minus_model_time():
    net = Denoiser()
    with profile_sample({"generator": net}) as prof:
        net(torch.randn(2, 4))
        sum(range(200_000))  # harness-side work outside the model
    d = prof.to_dict()
    assert 0 < d["model_seconds"] < d["seconds"]
    assert abs(d["overhead_seconds"] - (d["seconds"] - d["model_seconds"])) < 1e-9
    assert d["peak_memory_bytes"] > 0


def test_no_generator_no_nfe():
    with profile_sample({}) as prof:
        pass
    assert "nfe" not in prof.to_dict()


def test_text_sample_of_a_system_with_a_generator_has_no_nfe():
    net, lm = Denoiser(), torch.nn.Linear(4, 4)
    with profile_sample({"generator": net, "language_model": lm}) as prof:
        lm(torch.randn(1, 4))
    d = prof.to_dict()
    assert "nfe" not in d and d["modules"]["language_model"]["calls"] == 1

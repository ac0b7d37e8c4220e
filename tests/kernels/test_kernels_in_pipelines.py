"""Dispatch swapped inside the measured paths: the flow sampler and the speculative decoder.

Under ``TRITON_INTERPRET=1`` the Triton kernels run on CPU tensors, so forcing the
``triton`` backend exercises the same kernel code a GPU run compiles. Images must agree
within the stated tolerance and greedy tokens must be identical.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.drafters import DraftModelDrafter
from hbench.baselines.runtime.flow import FlowSchedule, Guidance, sample_euler
from hbench.baselines.runtime.speculative import speculative_decode
from hbench.baselines.runtime.target import HFCausalLMTarget, Prompt
from hbench.kernels import dispatch

IMAGE_ATOL = 1e-4  # fp32 sampler over 6 steps: reductions may sum in another order


class BranchConv(torch.nn.Module):
    """A small real denoiser whose output differs per CFG branch."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.branch = torch.nn.Embedding(3, 3)

    def forward(self, x, t, branches):
        ids = torch.tensor([("cond", "no_text", "no_image").index(b) for b in branches])
        xs = x.repeat(len(branches), 1, 1, 1)
        bias = self.branch(ids).repeat_interleave(x.shape[0], 0)[:, :, None, None]
        return self.net(xs) * (1 + t.repeat(len(branches))[:, None, None, None]) + bias


def _sample(backend: str, guidance: Guidance) -> tuple[torch.Tensor, dict]:
    dispatch.reset_report()
    noise = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    guidance = replace(guidance, fused=True)  # the accelerated combine (the baseline's is eager)
    with dispatch.use_backend(backend), torch.no_grad():
        out = sample_euler(BranchConv(), noise, FlowSchedule(num_timesteps=7, shift=3.0), guidance)
    return out, dispatch.report()


def test_flow_sampler_same_images_with_triton_and_reference():
    for guidance in (
        Guidance(text_scale=4.0, renorm_type="global"),
        Guidance(text_scale=4.0, img_scale=1.5, interval=(0.4, 1.0), renorm_type="text_channel"),
        Guidance(text_scale=3.0, img_scale=1.2, renorm_type="channel", renorm_min=0.5),
    ):
        ref, ref_report = _sample("reference", guidance)
        tri, tri_report = _sample("triton", guidance)
        assert torch.isfinite(tri).all()
        torch.testing.assert_close(tri, ref, atol=IMAGE_ATOL, rtol=1e-4)
        steps_guided = tri_report["ops"]["cfg_combine"]["triton"]
        assert steps_guided >= 1 and not tri_report["fallbacks"]  # the kernel really ran
        assert ref_report["ops"]["cfg_combine"] == {"reference": steps_guided}


def test_speculative_decoder_same_tokens_with_triton_and_reference():
    torch.manual_seed(0)
    cfg = dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
               bos_token_id=None, eos_token_id=None, pad_token_id=None)  # fmt: skip
    target_model = LlamaForCausalLM(LlamaConfig(**cfg)).eval()
    torch.manual_seed(1)
    draft_model = LlamaForCausalLM(LlamaConfig(**{**cfg, "num_hidden_layers": 1})).eval()
    ids = torch.randint(0, 96, (9,), generator=torch.Generator().manual_seed(2))
    outs = {}
    for backend in ("reference", "triton"):
        dispatch.reset_report()
        with dispatch.use_backend(backend):
            res = speculative_decode(
                HFCausalLMTarget(target_model), DraftModelDrafter(draft_model),
                Prompt(input_ids=ids), DecodeConfig(max_new_tokens=12), k=3,
            )  # fmt: skip
        outs[backend] = res.token_ids
        assert set(dispatch.report()["ops"]["verify_greedy"]) == {backend}
    assert len(outs["reference"]) == 12
    assert outs["triton"] == outs["reference"]

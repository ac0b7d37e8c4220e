"""The lean forward reproduces transformers' forward and keeps speculative decoding exact."""

from __future__ import annotations

import pytest
import torch
from spec_models import SMALL, perturbed, prompts
from transformers import GPT2Config, GPT2LMHeadModel, Qwen3Config, Qwen3ForCausalLM

from hbench.baselines.runtime import lean as lean_module
from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.drafters import DraftModelDrafter, EagleHeadDrafter
from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.lean import LeanLlamaTarget, make_target
from hbench.baselines.runtime.speculative import speculative_decode
from hbench.baselines.runtime.target import HFCausalLMTarget, Prompt


@pytest.fixture(scope="module")
def qwen3():
    torch.manual_seed(2)
    return Qwen3ForCausalLM(Qwen3Config(**SMALL, head_dim=8)).eval()


@pytest.fixture(params=["fused", "separate"])
def fuse_budget(request, monkeypatch):
    """Both arrangements: fused q/k/v + gate/up (small models) and separate projections."""
    if request.param == "separate":
        monkeypatch.setattr(lean_module, "FUSE_BUDGET_BYTES", 0)
    return request.param


@pytest.fixture(params=["cached", "streamed"])
def stream_regime(request, monkeypatch):
    """Both projection forms: F.linear (weights that fit a cache, as these tiny models do) and
    the few-row ``W @ x.T`` of models whose weights stream from memory."""
    if request.param == "streamed":
        monkeypatch.setattr(lean_module, "STREAM_BYTES", 0)
    return request.param


@torch.no_grad()
def test_lean_matches_transformers_forward(models, qwen3, fuse_budget, stream_regime):
    layers = (1, -1)
    for model in (models["llama"], models["qwen2"], qwen3):
        hf, lean = HFCausalLMTarget(model, feature_layers=layers), LeanLlamaTarget(model, layers)
        prompt = Prompt(input_ids=prompts(1, seed=3)[0])
        outs = []
        for t in (hf, lean):
            t.start(64)
            a = t.prefill(prompt)
            b = t.extend(torch.tensor([3, 4, 5]))
            t.rollback(t.length - 2)
            c = t.extend(torch.tensor([9]))
            outs.append((a, b, c))
        assert len(lean._lean[0].qkv) == (1 if fuse_budget == "fused" else 3)
        assert lean.streamed == lean._lean[0].streamed == (stream_regime == "streamed")
        for x, y in zip(*outs, strict=True):
            assert torch.allclose(x.logits, y.logits, atol=1e-5)
            assert torch.allclose(x.features, y.features, atol=1e-5)


@torch.no_grad()
def test_lean_follows_weight_updates(models):
    """The fused q/k/v and gate/up copies are rebuilt when the model's weights change."""
    model = perturbed(models["qwen2"], 0.0, seed=1)  # a private copy (Qwen2: q/k/v biases)
    hf, lean = HFCausalLMTarget(model), LeanLlamaTarget(model)
    prompt = Prompt(input_ids=prompts(1, seed=3)[0])
    for step in range(2):
        logits = []
        for t in (hf, lean):
            t.start(32)
            logits.append(t.prefill(prompt).logits)
        assert torch.allclose(*logits, atol=1e-5)
        if step == 0:
            layer = model.model.layers[0]
            layer.self_attn.k_proj.bias.add_(0.5)
            layer.mlp.up_proj.weight.mul_(1.5)
            before = logits[1]
    assert not torch.allclose(before, logits[1], atol=1e-3)


def test_lean_spec_is_exact_and_counts_forwards(models, qwen3, trained_head, stream_regime):
    config = DecodeConfig(max_new_tokens=20)
    for model in (models["llama"], qwen3):
        prompt = Prompt(input_ids=prompts(1, seed=7)[0])
        ref = plain_decode(HFCausalLMTarget(model), prompt, config).token_ids
        target = LeanLlamaTarget(model, feature_layers=(-1,))
        calls = []
        hook = target.forward_module.register_forward_hook(lambda *a, c=calls: c.append(1))
        assert plain_decode(target, prompt, config).token_ids == ref
        head = (
            trained_head
            if model is models["llama"]
            else EagleHead(EagleHeadConfig.for_target(model.config)).eval()
        )
        for k in (1, 4):
            for drafter in (EagleHeadDrafter(head), DraftModelDrafter(perturbed(model, 0.004, 5))):
                calls.clear()
                res = speculative_decode(target, drafter, prompt, config, k)
                assert res.token_ids == ref
                assert len(calls) == res.stats.target_forwards  # hooks see every forward
        hook.remove()


def test_unsupported_models_fall_back_or_raise():
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).eval()
    with pytest.raises(NotImplementedError, match="lean forward supports"):
        LeanLlamaTarget(gpt2)
    assert isinstance(make_target(gpt2), HFCausalLMTarget)
    with pytest.raises(ValueError, match="Unknown forward"):
        make_target(gpt2, forward="fast")


def test_lean_head_path_matches_transformers_head_path(models, trained_head, stream_regime):
    model = models["llama"]
    target = LeanLlamaTarget(model, feature_layers=(-1,))
    config = DecodeConfig(max_new_tokens=20)
    for ids in prompts(2, seed=7):
        prompt = Prompt(input_ids=ids)
        runs = [
            speculative_decode(target, EagleHeadDrafter(trained_head, lean=lean), prompt, config, 4)
            for lean in (True, False)
        ]
        assert runs[0].token_ids == runs[1].token_ids
        # same drafts in every round <=> same per-position acceptance counts
        assert runs[0].stats.accepted_per_position == runs[1].stats.accepted_per_position
        assert runs[0].stats.drafted_per_position == runs[1].stats.drafted_per_position
    # and the head's module forward still runs (profiler hooks count draft forwards)
    calls = []
    hook = trained_head.register_forward_hook(lambda *a, c=calls: c.append(1))
    res = speculative_decode(target, EagleHeadDrafter(trained_head), prompt, config, 3)
    hook.remove()
    assert len(calls) == res.stats.draft_forwards > 0


@pytest.mark.parametrize("rows", [1, 2, 5, lean_module.SMALL_ROWS, lean_module.SMALL_ROWS + 1, 40])
@pytest.mark.parametrize("with_bias", [False, True])
def test_small_row_linear_equals_f_linear(rows, with_bias):
    """The few-row CPU projection is F.linear's product: same shape, values to rounding."""
    g = torch.Generator().manual_seed(rows)
    x = torch.randn(rows, 48, generator=g)
    w = torch.randn(72, 48, generator=g)
    b = torch.randn(72, generator=g) if with_bias else None
    got = lean_module.linear(x, w, b, streamed=True)
    want = torch.nn.functional.linear(x, w, b)
    assert got.shape == want.shape == (rows, 72)
    assert got.is_contiguous()  # callers view it into heads
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_small_row_linear_keeps_gradients():
    """The head trainer differentiates through it (few-row batches in tests)."""
    x = torch.randn(3, 8, requires_grad=True)
    w = torch.randn(5, 8, requires_grad=True)
    lean_module.linear(x, w, streamed=True).sum().backward()
    torch.testing.assert_close(x.grad, w.sum(0).expand(3, 8))
    torch.testing.assert_close(w.grad, x.detach().sum(0).expand(5, 8))


def test_streams_counts_shared_parameters_once(monkeypatch):
    small = torch.nn.Linear(64, 64)
    big = torch.nn.utils.skip_init(torch.nn.Linear, 4096, 4100, bias=False)  # 67 MB, no init
    assert not lean_module.streams([small])
    assert lean_module.streams([small, big])
    monkeypatch.setattr(lean_module, "STREAM_BYTES", 64 * 64 * 4 + 64 * 4)  # small's bytes
    assert not lean_module.streams([small, small])  # tied weights count once
    assert lean_module.streams([small, torch.nn.Linear(1, 1)])


def test_head_follows_its_targets_projection_form(models, trained_head, stream_regime):
    """The EAGLE head's layer takes the target's choice (it runs between the target's
    forwards, so its weights are as cold as the target's)."""
    target = LeanLlamaTarget(models["llama"], feature_layers=(-1,))
    drafter = EagleHeadDrafter(trained_head)
    config = DecodeConfig(max_new_tokens=4)
    speculative_decode(target, drafter, Prompt(input_ids=prompts(1, seed=7)[0]), config, 2)
    assert trained_head._lean[0].streamed == target.streamed == (stream_regime == "streamed")

"""Greedy speculative decoding must be token-identical to plain greedy decoding."""

from __future__ import annotations

import pytest
from spec_models import perturbed, prefix_embeds_prompt, prompts

from hbench.baselines.runtime.decoding import STOP_EOS, STOP_LENGTH, STOP_STRING, DecodeConfig
from hbench.baselines.runtime.drafters import DraftModelDrafter, EagleHeadDrafter
from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.speculative import speculative_decode
from hbench.baselines.runtime.target import HFCausalLMTarget, Prompt

KS = range(1, 7)


def _drafters(model, family, models, trained_head):
    """Drafters from always-agreeing to never-agreeing, so every acceptance length occurs."""
    out = {
        "self": lambda: DraftModelDrafter(model),
        "noisy": lambda: DraftModelDrafter(perturbed(model, 0.004, seed=5)),
        "other": lambda: DraftModelDrafter(models["qwen2" if family == "llama" else "llama"]),
        "eagle-random": lambda: EagleHeadDrafter(
            EagleHead(EagleHeadConfig.for_target(model.config)).eval()
        ),
    }
    if family == "llama":
        out["eagle-trained"] = lambda: EagleHeadDrafter(trained_head)
    return out


def test_exact_for_every_k_and_drafter(family, models, trained_head):
    model = models[family]
    target = HFCausalLMTarget(model, feature_layers=(-1,))
    config = DecodeConfig(max_new_tokens=20)
    cases = [Prompt(input_ids=ids) for ids in prompts(1, seed=7)]
    baselines = [plain_decode(target, p, config).token_ids for p in cases]
    taus: dict[str, list[float]] = {}
    full: list[tuple[float, float]] = []
    for name, make in _drafters(model, family, models, trained_head).items():
        drafter = make()
        for k in KS:
            for prompt, ref in zip(cases, baselines, strict=True):
                res = speculative_decode(target, drafter, prompt, config, k)
                assert res.token_ids == ref, f"{family} drafter={name} k={k}"
                assert res.stats.new_tokens == len(ref) == 20
                assert res.stats.stop_reason == STOP_LENGTH
                taus.setdefault(name, []).append(res.stats.acceptance_length)
                if name == "self":  # always accepted: k + 1 tokens per round, the last one cut
                    full.append((res.stats.acceptance_length, 19 / -(-19 // (k + 1))))
    # The drafters really exercise different acceptance regimes (else the test proves little).
    assert all(got == pytest.approx(want) for got, want in full)
    assert max(taus["other"]) < 1.6
    assert 1.2 < sum(taus["noisy"]) / len(taus["noisy"]) < max(taus["self"])
    if "eagle-trained" in taus:
        assert sum(taus["eagle-trained"]) / len(taus["eagle-trained"]) > 1.5


def test_matches_transformers_generate(family, models):
    model = models[family]
    ids = prompts(1, seed=3)[0]
    ref = model.generate(ids[None], max_new_tokens=16, do_sample=False, eos_token_id=None)
    target = HFCausalLMTarget(model)
    out = plain_decode(target, Prompt(input_ids=ids), DecodeConfig(max_new_tokens=16))
    assert out.token_ids == ref[0, ids.shape[0] :].tolist()


@pytest.mark.parametrize("k", KS)
def test_eos_and_max_new_tokens_inside_a_drafted_block(models, k):
    model = models["llama"]
    target = HFCausalLMTarget(model)
    prompt = Prompt(input_ids=prompts(1, seed=9)[0])
    ref = plain_decode(target, prompt, DecodeConfig(max_new_tokens=30)).token_ids
    # EOS = a token first seen at position j; an always-agreeing drafter puts it mid-block.
    for j in (1, 2, 4, 7):
        eos = ref[j]
        first = ref.index(eos)
        config = DecodeConfig(max_new_tokens=30, eos_token_ids=(eos,))
        base = plain_decode(target, prompt, config)
        spec = speculative_decode(target, DraftModelDrafter(model), prompt, config, k)
        assert base.token_ids == ref[: first + 1] == spec.token_ids
        assert spec.stats.stop_reason == base.stats.stop_reason == STOP_EOS
        if first <= k:  # one round: the drafter proposed ref[1..first] and stopped at EOS
            assert len(spec.stats.drafted_per_position) == first
    for max_new in range(1, 16):
        config = DecodeConfig(max_new_tokens=max_new)
        spec = speculative_decode(target, DraftModelDrafter(model), prompt, config, k)
        assert spec.token_ids == ref[:max_new]


def test_stop_string_inside_a_drafted_block(models):
    model = models["llama"]
    target = HFCausalLMTarget(model)
    prompt = Prompt(input_ids=prompts(1, seed=9)[0])
    ref = plain_decode(target, prompt, DecodeConfig(max_new_tokens=30)).token_ids

    def decode(ids: list[int]) -> str:
        return " ".join(f"t{i}" for i in ids) + " "

    stop = f"t{ref[3]} t{ref[4]} "
    config = DecodeConfig(max_new_tokens=30, stop_strings=(stop,))
    base = plain_decode(target, prompt, config, decode=decode)
    assert base.stats.stop_reason == STOP_STRING
    for k in KS:
        spec = speculative_decode(
            target, DraftModelDrafter(model), prompt, config, k, decode=decode
        )
        assert spec.token_ids == base.token_ids
        assert spec.stats.stop_reason == STOP_STRING


def test_embeddings_prefix_prompt(models, trained_head):
    """A VLM-style prompt: a prefix of non-token embeddings, then text; the head may skip it."""
    model = models["llama"]
    embeds, text = prefix_embeds_prompt(model)
    prompt = Prompt(inputs_embeds=embeds, prefix_len=8, draft_ids=text)
    target = HFCausalLMTarget(model, feature_layers=(-1,))
    config = DecodeConfig(max_new_tokens=18)
    ref = plain_decode(target, prompt, config).token_ids
    for k in (1, 3, 6):
        for drafter in (
            EagleHeadDrafter(trained_head, skip_prefix=True),
            EagleHeadDrafter(trained_head, skip_prefix=False),
            DraftModelDrafter(perturbed(model, 0.004, seed=5)),
        ):
            assert speculative_decode(target, drafter, prompt, config, k).token_ids == ref


def test_multi_layer_features_eagle3_style(models):
    model = models["qwen2"]
    layers = (1, 2, -1)
    target = HFCausalLMTarget(model, feature_layers=layers)
    head = EagleHead(EagleHeadConfig.for_target(model.config, feature_layers=layers)).eval()
    config = DecodeConfig(max_new_tokens=15)
    prompt = Prompt(input_ids=prompts(1, seed=5)[0])
    ref = plain_decode(target, prompt, config).token_ids
    for k in (2, 5):
        assert (
            speculative_decode(target, EagleHeadDrafter(head), prompt, config, k).token_ids == ref
        )
    with pytest.raises(ValueError, match="feature_layers"):
        speculative_decode(HFCausalLMTarget(model), EagleHeadDrafter(head), prompt, config, 2)


@pytest.mark.parametrize("cache_kind", ["dynamic", "static"])
def test_other_cache_kinds_agree(models, cache_kind):
    model = models["llama"]
    prompt = Prompt(input_ids=prompts(1, seed=8)[0])
    config = DecodeConfig(max_new_tokens=14)
    ref = plain_decode(HFCausalLMTarget(model), prompt, config).token_ids
    target = HFCausalLMTarget(model, cache_kind=cache_kind)
    assert plain_decode(target, prompt, config).token_ids == ref
    drafter = DraftModelDrafter(perturbed(model, 0.004, seed=5), cache_kind=cache_kind)
    for k in (1, 4):
        assert speculative_decode(target, drafter, prompt, config, k).token_ids == ref


def test_statistics_are_consistent(models):
    model = models["llama"]
    target = HFCausalLMTarget(model)
    prompt = Prompt(input_ids=prompts(1, seed=1)[0])
    config = DecodeConfig(max_new_tokens=25)
    base = plain_decode(target, prompt, config)
    assert base.stats.target_forwards == 25 and base.stats.acceptance_length == 1.0
    k = 4
    res = speculative_decode(
        target, DraftModelDrafter(perturbed(model, 0.004, seed=5)), prompt, config, k
    )
    s = res.stats
    assert s.rounds == s.target_forwards - 1
    assert s.acceptance_length == pytest.approx((s.new_tokens - 1) / s.rounds)
    # every round drafts min(k, remaining - 1) tokens with one forward per token
    assert s.draft_forwards <= s.rounds * k and s.draft_forwards >= s.rounds
    assert len(s.accept_per_position) == k and all(0 <= r <= 1 for r in s.accept_per_position)
    assert s.drafted_per_position[0] == s.rounds
    out = res.to_text_output("x").stats
    for key in (
        "new_tokens",
        "target_forwards",
        "draft_forwards",
        "acceptance_length",
        "accept_per_position",
        "prefill_s",
        "decode_s",
        "draft_s",
        "verify_s",
    ):
        assert key in out
    with pytest.raises(ValueError, match="k must be"):
        speculative_decode(target, DraftModelDrafter(model), prompt, config, 0)

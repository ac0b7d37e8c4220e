"""TargetDrafter: a draft model on the runtime's own forward (lean or transformers')."""

from __future__ import annotations

import pytest
import torch
from spec_models import perturbed, prefix_embeds_prompt, prompts

from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.drafters import DraftModelDrafter, TargetDrafter
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.lean import make_target
from hbench.baselines.runtime.speculative import speculative_decode
from hbench.baselines.runtime.target import Prompt


def test_greedy_exact_for_every_k_and_draft(family, models):
    model = models[family]
    target = make_target(model)
    config = DecodeConfig(max_new_tokens=20)
    cases = [Prompt(input_ids=ids) for ids in prompts(2, seed=11)]
    refs = [plain_decode(target, p, config).token_ids for p in cases]
    other = models["qwen2" if family == "llama" else "llama"]
    taus = {}
    for name, draft in (("self", model), ("noisy", perturbed(model, 0.004, seed=5)),
                        ("other", other)):  # fmt: skip
        drafter = TargetDrafter(make_target(draft))  # one drafter reused across prompts
        for k in range(1, 7):
            for prompt, ref in zip(cases, refs, strict=True):
                res = speculative_decode(target, drafter, prompt, config, k)
                assert res.token_ids == ref, f"{family} draft={name} k={k}"
                taus.setdefault(name, []).append(res.stats.acceptance_length)
    mean = {n: sum(t) / len(t) for n, t in taus.items()}
    assert mean["other"] < mean["noisy"] < mean["self"]  # every acceptance regime occurs


def test_lean_and_hf_draft_forwards_propose_the_same_when_sampling(models):
    """Same draft weights and random stream: identical proposals, hence identical output."""
    model = models["llama"]
    draft = perturbed(model, 0.004, seed=5)
    target = make_target(model, "hf")
    config = DecodeConfig(max_new_tokens=16, temperature=0.8, top_k=20)
    prompt = Prompt(input_ids=prompts(1, seed=3)[0])
    outs = []
    for drafter in (
        DraftModelDrafter(draft, forward="lean"),
        DraftModelDrafter(draft, forward="hf"),
    ):
        gen = torch.Generator().manual_seed(9)
        outs.append(speculative_decode(target, drafter, prompt, config, 4, generator=gen))
    assert outs[0].token_ids == outs[1].token_ids
    assert outs[0].stats.acceptance_length == outs[1].stats.acceptance_length


def test_embeddings_prompt_read_by_the_draft_or_its_draft_ids(models):
    """A VLM-style prefix of non-token embeddings: the draft reads it (same width) or text ids."""
    model = models["llama"]
    embeds, text = prefix_embeds_prompt(model)
    target = make_target(model)
    config = DecodeConfig(max_new_tokens=18)
    draft = make_target(perturbed(model, 0.004, seed=5))
    for prompt in (
        Prompt(inputs_embeds=embeds, prefix_len=8),
        Prompt(inputs_embeds=embeds, prefix_len=8, draft_ids=text),
    ):
        ref = plain_decode(target, prompt, config).token_ids
        for k in (1, 3, 6):
            drafter = TargetDrafter(draft, reads_embeddings=True)
            res = speculative_decode(target, drafter, prompt, config, k)
            assert res.token_ids == ref
    assert res.stats.acceptance_length > 1.2  # the draft does read the prefix
    with pytest.raises(ValueError, match="a draft model needs token ids"):
        speculative_decode(target, TargetDrafter(draft), Prompt(inputs_embeds=embeds), config, 3)

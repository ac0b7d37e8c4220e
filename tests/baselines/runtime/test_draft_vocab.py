"""EAGLE-3's draft vocabulary: the head projects onto a stored subset of target ids."""

from __future__ import annotations

import copy

import pytest
import torch
from safetensors.torch import load_file, save_file
from spec_models import prompts

from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.drafters import EagleHeadDrafter
from hbench.baselines.runtime.eagle import DRAFT_VOCAB, EagleHead
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.speculative import speculative_decode
from hbench.baselines.runtime.target import HFCausalLMTarget, Prompt


def _with_vocab(head: EagleHead, vocab: torch.Tensor) -> EagleHead:
    out = copy.deepcopy(head)
    out.draft_vocab = vocab
    return out


def _target_vocab(model, trained_head) -> torch.Tensor:
    """The ids the target chooses on the test prompts (what a trainer's data would hold)."""
    target = HFCausalLMTarget(model)
    seen = set()
    for ids in prompts(1, seed=7) + prompts(8, seed=11):
        seen |= set(
            plain_decode(target, Prompt(input_ids=ids), DecodeConfig(max_new_tokens=24)).token_ids
        )
    return torch.tensor(sorted(seen), dtype=torch.long)


def test_logits_are_the_full_ones_on_the_subset(models, trained_head):
    lm_head = models["llama"].get_output_embeddings()
    vocab = torch.tensor([3, 5, 17, 40])
    head = _with_vocab(trained_head, vocab)
    hidden = torch.randn(1, 2, head.config.hidden_size)
    full = head.logits(hidden, lm_head, full_vocab=True)
    sub = head.logits(hidden, lm_head)
    assert sub.shape == full.shape
    assert torch.allclose(sub[..., vocab], full[..., vocab], atol=1e-6)
    rest = torch.ones(full.shape[-1], dtype=torch.bool)
    rest[vocab] = False
    assert torch.isneginf(sub[..., rest]).all()
    assert torch.equal(trained_head.logits(hidden, lm_head), full)  # no vocab: unchanged


def test_save_load_keeps_the_vocab_and_checks_it(models, trained_head, tmp_path):
    vocab = torch.tensor([2, 9, 11])
    _with_vocab(trained_head, vocab).save(tmp_path / "h.safetensors")
    assert torch.equal(EagleHead.load(tmp_path / "h.safetensors").draft_vocab, vocab)
    trained_head.save(tmp_path / "plain.safetensors")
    assert EagleHead.load(tmp_path / "plain.safetensors").draft_vocab is None
    from safetensors import safe_open

    with safe_open(str(tmp_path / "h.safetensors"), framework="pt") as f:
        meta = f.metadata()
    state = load_file(str(tmp_path / "h.safetensors"))
    state[DRAFT_VOCAB] = state[DRAFT_VOCAB].float()
    save_file(state, str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="bad.safetensors: draft_vocab must be"):
        EagleHead.load(tmp_path / "bad.safetensors")


@pytest.mark.parametrize("k", [1, 3, 5])
def test_greedy_stays_exact_and_acceptance_is_kept(models, trained_head, k):
    """Verification is unchanged: output is the target's; with the ids the target produces the
    head drafts the same tokens as with the full vocabulary, with a tiny subset it cannot."""
    model = models["llama"]
    target = HFCausalLMTarget(model, feature_layers=(-1,))
    config = DecodeConfig(max_new_tokens=20)
    data_vocab = _target_vocab(model, trained_head)
    heads = {
        "full": trained_head,
        "data": _with_vocab(trained_head, data_vocab),
        "tiny": _with_vocab(trained_head, data_vocab[:2]),
    }
    for ids in prompts(1, seed=7):
        prompt = Prompt(input_ids=ids)
        ref = plain_decode(target, prompt, config).token_ids
        taus = {}
        for name, head in heads.items():
            res = speculative_decode(target, EagleHeadDrafter(head), prompt, config, k)
            assert res.token_ids == ref, name
            taus[name] = res.stats.acceptance_length
        assert taus["data"] == taus["full"]
        assert taus["tiny"] < taus["full"]

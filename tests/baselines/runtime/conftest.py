"""Tiny random-weight transformers models for the speculative-decoding tests."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig
from hbench.baselines.runtime.eagle_train import eagle_loss, target_features
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.target import HFCausalLMTarget, Prompt

VOCAB = 96
SMALL = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    bos_token_id=None,
    eos_token_id=None,
    pad_token_id=None,
)


def build(kind: str, seed: int) -> torch.nn.Module:
    """A tiny random causal LM ('llama' or 'qwen2') with deterministic weights."""
    torch.manual_seed(seed)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(**SMALL))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(**SMALL, use_sliding_window=False))
    return model.eval()


def perturbed(model: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    """A copy of ``model`` with Gaussian noise on every weight: a partially agreeing drafter."""
    copy = type(model)(model.config).eval()
    copy.load_state_dict(model.state_dict())
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in copy.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))
    return copy


def prompts(n: int, seed: int = 0, length: int = 6) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, VOCAB, (length + i,), generator=gen) for i in range(n)]


@pytest.fixture(scope="session", params=["llama", "qwen2"])
def family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def models() -> dict[str, torch.nn.Module]:
    torch.set_num_threads(1)
    return {kind: build(kind, seed=1) for kind in ("llama", "qwen2")}


@pytest.fixture(scope="session")
def trained_head(models: dict[str, torch.nn.Module]) -> EagleHead:
    """An EAGLE head fitted for a few seconds to the llama target's own greedy outputs.

    It agrees with the target often but not always, so every acceptance length occurs.
    """
    model = models["llama"]
    torch.manual_seed(3)
    target = HFCausalLMTarget(model)
    seqs = []
    # The test prompts are in the data on purpose: the head only has to make every
    # acceptance length occur in the exactness tests, not to generalise.
    for ids in prompts(8, seed=11) + prompts(1, seed=7):
        out = plain_decode(target, Prompt(input_ids=ids), DecodeConfig(max_new_tokens=24))
        seqs.append(torch.cat([ids[-6:], torch.tensor(out.token_ids)]))
    batch = torch.stack(seqs)
    head = EagleHead(EagleHeadConfig.for_target(model.config))
    feats, embeds, logits = target_features(model, (-1,), input_ids=batch)
    opt = torch.optim.Adam(head.parameters(), lr=3e-2)
    for _ in range(80):
        opt.zero_grad()
        loss = eagle_loss(head, model.get_output_embeddings(), feats, embeds, logits, hard=True)
        loss.backward()
        opt.step()
    return head.eval()

"""Fixtures for the speculative-decoding tests (helpers live in spec_models.py)."""

from __future__ import annotations

import pytest
import torch
from spec_models import build, prompts

from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig
from hbench.baselines.runtime.eagle_train import eagle_loss, target_features
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.target import HFCausalLMTarget, Prompt


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

"""Sampling mode: speculative rejection sampling reproduces the target's distribution.

Every check is a chi-square goodness-of-fit test at ALPHA against an exactly computed
distribution; seeds are fixed, so the outcome is deterministic. The same tests must reject
deliberately biased acceptance rules, which shows they have the power to catch a bug.
"""

from __future__ import annotations

import pytest
import torch
from scipy.stats import chisquare
from transformers import LlamaConfig, LlamaForCausalLM

from hbench.baselines.runtime.decoding import DecodeConfig, sample, sampling_probs
from hbench.baselines.runtime.drafters import DraftModelDrafter
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.speculative import VerifyResult, speculative_decode, verify_sampling
from hbench.baselines.runtime.target import HFCausalLMTarget, Prompt

ALPHA = 1e-3
V = 8


def _pvalue(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """Chi-square p-value; a draw in a zero-probability cell gives 0, cells with expected
    count < 5 are pooled into one."""
    zero = probs <= 0
    if counts[zero].sum() > 0:
        return 0.0
    obs, probs = counts[~zero].double(), probs[~zero].double()
    expected = probs / probs.sum() * obs.sum()
    small = expected < 5
    if small.any():
        obs = torch.cat([obs[~small], obs[small].sum()[None]])
        expected = torch.cat([expected[~small], expected[small].sum()[None]])
    return float(chisquare(obs.numpy(), expected.numpy()).pvalue)


def biased_resample_from_target(d, q, p, g) -> VerifyResult:
    """Bug: on rejection draw from p instead of the residual norm(max(p - q, 0))."""
    res = verify_sampling(d, q, p, g)
    if res.accepted < d.shape[0]:
        return VerifyResult(res.accepted, res.tokens[:-1] + [sample(p[res.accepted], g)])
    return res


def biased_accept_if_likelier(d, q, p, g) -> VerifyResult:
    """Bug: deterministic acceptance when p >= q (no coin flip)."""
    k = d.shape[0]
    n = 0
    while n < k and p[n, d[n]] >= q[n, d[n]]:
        n += 1
    last = sample(p[n], g)
    return VerifyResult(n, d[:n].tolist() + [last])


def _first_token_counts(rule, p: torch.Tensor, q: torch.Tensor, trials: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(p.shape[-1], dtype=torch.long)
    for _ in range(trials):
        drafts = torch.multinomial(q, 1, generator=gen)[:, 0]
        counts[rule(drafts, q, p, gen).tokens[0]] += 1
    return counts


def test_verify_sampling_rule_alone():
    gen = torch.Generator().manual_seed(1)
    k = 3
    p = torch.softmax(2.0 * torch.randn(k + 1, V, generator=gen), dim=-1)
    q = torch.softmax(2.0 * torch.randn(k, V, generator=gen), dim=-1)
    counts = _first_token_counts(verify_sampling, p, q, trials=2500)
    assert _pvalue(counts, p[0]) > ALPHA
    for bug in (biased_resample_from_target, biased_accept_if_likelier):
        assert _pvalue(_first_token_counts(bug, p, q, trials=2500), p[0]) < ALPHA, bug.__name__
    # identical draft and target: everything is accepted
    res = verify_sampling(torch.tensor([1, 2, 3]), p[:3], torch.cat([p[:3], p[3:]]), gen)
    assert res.accepted == 3 and len(res.tokens) == 4


def _tiny(seed: int) -> LlamaForCausalLM:
    # initializer_range 0.5 makes distributions peaked, so target and draft really differ
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=V,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        initializer_range=0.5,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    return LlamaForCausalLM(cfg).eval()


@torch.no_grad()
def _exact_marginals(model, prompt: torch.Tensor, config: DecodeConfig):
    """Exact distributions of (x1, x2) jointly and of x3, under the processed distribution."""
    p1 = sampling_probs(model(prompt[None]).logits[0, -1:], config)[0]
    ctx2 = torch.cat([prompt.expand(V, -1), torch.arange(V)[:, None]], dim=1)
    p2 = sampling_probs(model(ctx2).logits[:, -1], config)  # [x1, x2]
    pairs = torch.cartesian_prod(torch.arange(V), torch.arange(V))
    ctx3 = torch.cat([prompt.expand(V * V, -1), pairs], dim=1)
    p3 = sampling_probs(model(ctx3).logits[:, -1], config).view(V, V, V)
    joint12 = p1[:, None] * p2
    m3 = (joint12[:, :, None] * p3).sum(dim=(0, 1))
    return joint12.flatten(), m3


def _sample_counts(decode_fn, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    c12 = torch.zeros(V * V, dtype=torch.long)
    c3 = torch.zeros(V, dtype=torch.long)
    for seed in range(n):
        toks = decode_fn(torch.Generator().manual_seed(seed))
        c12[toks[0] * V + toks[1]] += 1
        c3[toks[2]] += 1
    return c12, c3


def always_accept(d, q, p, g) -> VerifyResult:
    """Bug: accept every draft (the output then follows the draft model)."""
    return VerifyResult(d.shape[0], d.tolist() + [sample(p[d.shape[0]], g)])


def test_speculative_sampling_matches_target_distribution():
    torch.set_num_threads(1)
    model, draft = _tiny(0), _tiny(1)
    prompt = torch.tensor([1, 2, 3])
    config = DecodeConfig(max_new_tokens=3, temperature=0.9, top_p=0.8)
    joint12, m3 = _exact_marginals(model, prompt, config)
    target = HFCausalLMTarget(model)
    drafter = DraftModelDrafter(draft)
    p = Prompt(input_ids=prompt)

    def spec(rule):
        return lambda g: (
            speculative_decode(
                target, drafter, p, config, 2, generator=g, sampling_fn=rule
            ).token_ids
        )

    c12, c3 = _sample_counts(spec(verify_sampling), 300)
    assert _pvalue(c12, joint12) > ALPHA and _pvalue(c3, m3) > ALPHA
    # plain sampling, the reference the spec decoder must match, passes the same check
    c12, c3 = _sample_counts(lambda g: plain_decode(target, p, config, generator=g).token_ids, 200)
    assert _pvalue(c12, joint12) > ALPHA and _pvalue(c3, m3) > ALPHA
    # and the end-to-end check has the power to catch a biased rule
    c12, c3 = _sample_counts(spec(always_accept), 150)
    assert min(_pvalue(c12, joint12), _pvalue(c3, m3)) < ALPHA


def test_sampling_probs_top_p_and_top_k():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    p = sampling_probs(logits, DecodeConfig(max_new_tokens=1, temperature=1.0, top_p=0.8))
    assert torch.allclose(p, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    p = sampling_probs(logits, DecodeConfig(max_new_tokens=1, temperature=1.0, top_p=0.81))
    assert torch.allclose(p, torch.tensor([[0.5, 0.3, 0.15, 0.0]]) / 0.95)
    p = sampling_probs(logits, DecodeConfig(max_new_tokens=1, temperature=1.0, top_k=1))
    assert p.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="greedy"):
        sampling_probs(logits, DecodeConfig(max_new_tokens=1))

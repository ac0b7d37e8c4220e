"""Chain speculative decoding at batch size 1, model-agnostic.

Each round: the drafter proposes ``k`` tokens; the target verifies ``[pending, d_1..d_k]`` in
one forward over its KV cache; the longest acceptable prefix plus the target's own next
token are committed (through the same :class:`~.decoding.Stopper` as the baseline); both
caches roll back to the committed length.

Greedy verification keeps the output token-identical to plain greedy decoding. Sampling
verification is standard speculative rejection sampling (accept ``d_i`` with probability
``min(1, p(d_i) / q(d_i))``, on rejection resample from ``norm(max(p - q, 0))``), so the
output distribution equals plain sampling from the target at the same settings.

The two ``verify_*`` functions are the single place where acceptance happens, so they can be
swapped for a fused kernel op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from hbench.kernels import verify as kernel_verify
from hbench.kernels import verify_sampling as kernel_sampling

from .decoding import (
    Clock,
    DecodeConfig,
    DecodeResult,
    DecodeStats,
    Stopper,
    sample,
    sampling_probs,
)
from .drafters import Drafter, DraftResult
from .target import Prompt, Target


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of one verification: ``accepted`` drafts, then the target's own next token."""

    accepted: int
    tokens: list[int]


def verify_greedy(draft_tokens: torch.Tensor, target_logits: torch.Tensor) -> VerifyResult:
    """Greedy acceptance: keep drafts while they equal the target's argmax.

    Runs the kernels' ``verify_greedy`` op (Triton on CUDA, its PyTorch reference elsewhere;
    the dispatcher records which).

    Args:
        draft_tokens: ``[k]`` proposed ids.
        target_logits: ``[k + 1, V]`` target logits at ``[pending, d_1..d_k]``.

    Returns:
        ``accepted = n`` and tokens ``d_1..d_n`` plus the target's argmax after them.
    """
    verdict = kernel_verify.verify_greedy(draft_tokens, target_logits)
    n = verdict.accepted_len
    return VerifyResult(accepted=n, tokens=draft_tokens[:n].tolist() + [verdict.next_token])


def verify_sampling(
    draft_tokens: torch.Tensor,
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    generator: torch.Generator | None,
) -> VerifyResult:
    """Speculative rejection sampling (Leviathan et al. 2023; Chen et al. 2023).

    Args:
        draft_tokens: ``[k]`` ids sampled from ``draft_probs``.
        draft_probs: ``[k, V]`` draft distributions ``q``.
        target_probs: ``[k + 1, V]`` processed target distributions ``p``.
        generator: random source.

    Returns:
        Accepted drafts plus one token from the residual (on rejection) or from ``p_k``.
    """
    k = draft_tokens.shape[0]
    u = torch.rand(k, generator=generator, device=target_probs.device)
    # kernels' verify_sampling: accept iff q(x) > 0 and u * q(x) < p(x) (division-free
    # min(1, p/q)); it returns the normalised residual (or p_k) to draw the next token from.
    verdict = kernel_sampling.verify_sampling(draft_tokens, draft_probs, target_probs, u)
    n = verdict.accepted_len
    return VerifyResult(
        accepted=n, tokens=draft_tokens[:n].tolist() + [sample(verdict.probs, generator)]
    )


GreedyVerify = Callable[[torch.Tensor, torch.Tensor], VerifyResult]
SamplingVerify = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Generator | None], VerifyResult
]


def _first_token(
    logits: torch.Tensor, config: DecodeConfig, generator: torch.Generator | None
) -> int:
    if config.greedy:
        return int(torch.argmax(logits).item())
    return sample(sampling_probs(logits[None], config)[0], generator)


def _verify(
    out_logits: torch.Tensor,
    draft: DraftResult,
    config: DecodeConfig,
    generator: torch.Generator | None,
    greedy_fn: GreedyVerify,
    sampling_fn: SamplingVerify,
) -> VerifyResult:
    tokens = torch.tensor(draft.tokens, dtype=torch.long, device=out_logits.device)
    if config.greedy:
        return greedy_fn(tokens, out_logits)
    p = sampling_probs(out_logits, config)
    q = draft.probs if draft.probs is not None else p.new_zeros((0, p.shape[-1]))
    return sampling_fn(tokens, q, p, generator)


def _check_pairing(target: Target, drafter: Drafter, k: int) -> None:
    """Refuse a round size below 1 and a drafter reading features the target does not return."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if drafter.feature_layers is not None and (
        getattr(target, "feature_layers", None) != tuple(drafter.feature_layers)
    ):
        raise ValueError(
            f"drafter reads target features {drafter.feature_layers} but the target returns "
            f"{getattr(target, 'feature_layers', None)}: build the target with the same feature_layers"
        )


@torch.inference_mode()
def speculative_decode(
    target: Target,
    drafter: Drafter,
    prompt: Prompt,
    config: DecodeConfig,
    k: int,
    decode: Callable[[list[int]], str] | None = None,
    generator: torch.Generator | None = None,
    clock: Clock | None = None,
    greedy_fn: GreedyVerify = verify_greedy,
    sampling_fn: SamplingVerify = verify_sampling,
) -> DecodeResult:
    """Generate with chain speculative decoding.

    Args:
        target: the model whose output is reproduced.
        drafter: proposes tokens (draft model or EAGLE head).
        prompt: token ids or a prefix of embeddings.
        config: the same decoding settings the baseline uses.
        k: draft tokens per round (>= 1); fewer near ``max_new_tokens`` or after a drafted EOS.
        decode: token ids -> text, needed for stop strings.
        generator: random source for sampling mode.
        clock: timer (CUDA-synchronising on GPU).
        greedy_fn: acceptance rule in greedy mode (swappable for a kernel op).
        sampling_fn: acceptance rule in sampling mode.

    Returns:
        New token ids and statistics (forwards, tau, per-position acceptance, stage times).
    """
    _check_pairing(target, drafter, k)
    clock = clock or Clock()
    stats = DecodeStats()
    stopper = Stopper(config, decode)
    draft_forwards0 = drafter.forwards
    # 1. Prefill the target; its last logits give the first new token.
    t0 = clock()
    extra = config.max_new_tokens + k + 1
    target.start(len(prompt) + extra)
    out = target.prefill(prompt)
    stats.target_forwards = 1
    pending = _first_token(out.logits[-1], config, generator)
    t1 = clock()
    stats.prefill_s = t1 - t0
    if not stopper.push(pending):
        drafter.begin(target, prompt, out, pending, extra)
    while not stopper.done:
        # 2. Draft: never more tokens than could still be kept (fewer at a drafted EOS).
        kk = min(k, stopper.remaining - 1)
        ta = clock()
        draft = drafter.propose(kk, config, generator) if kk else DraftResult([])
        tb = clock()
        # 3. Verify [pending, d_1..d_kk] in one target forward.
        base = target.length
        ids = torch.tensor([pending, *draft.tokens], dtype=torch.long, device=out.logits.device)
        out = target.extend(ids)
        stats.target_forwards += 1
        res = _verify(out.logits, draft, config, generator, greedy_fn, sampling_fn)
        stats.record_round(len(draft.tokens), res.accepted)
        # 4. Commit through the stopper; roll both caches back to the committed length.
        stopper.push_all(res.tokens)
        if not stopper.done:
            target.rollback(base + 1 + res.accepted)
            feats = None if out.features is None else out.features[: res.accepted + 1]
            drafter.commit(res.accepted, res.tokens, feats)
            pending = res.tokens[-1]
        tc = clock()
        stats.draft_s += tb - ta
        stats.verify_s += tc - tb
    stats.decode_s = clock() - t1
    stats.new_tokens = len(stopper.tokens)
    stats.draft_forwards = drafter.forwards - draft_forwards0
    stats.stop_reason = stopper.reason or ""
    return DecodeResult(token_ids=list(stopper.tokens), stats=stats)

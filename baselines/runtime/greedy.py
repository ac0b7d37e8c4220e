"""Baseline decoding: plain KV-cached greedy (or sampling) over a :class:`~.target.Target`.

It uses the same target adapter, KV cache and stopping rule as speculative decoding, so a
speedup measured against it comes from speculation only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .decoding import (
    Clock,
    DecodeConfig,
    DecodeResult,
    DecodeStats,
    Stopper,
    sample,
    sampling_probs,
)
from .target import Prompt, Target


def _next_token(
    logits: torch.Tensor, config: DecodeConfig, generator: torch.Generator | None
) -> int:
    if config.greedy:
        return int(torch.argmax(logits).item())
    return sample(sampling_probs(logits[None], config)[0], generator)


@torch.inference_mode()
def plain_decode(
    target: Target,
    prompt: Prompt,
    config: DecodeConfig,
    decode: Callable[[list[int]], str] | None = None,
    generator: torch.Generator | None = None,
    clock: Clock | None = None,
) -> DecodeResult:
    """Decode one token per target forward.

    Args:
        target: the model adapter.
        prompt: token ids or a prefix of embeddings.
        config: max new tokens, temperature / top-p, EOS ids, stop strings.
        decode: token ids -> text, needed for stop strings.
        generator: random source for sampling (ignored when greedy).
        clock: timer (CUDA-synchronising on GPU).

    Returns:
        The new token ids (EOS included when it ended generation) and statistics.
    """
    clock = clock or Clock()
    stats = DecodeStats()
    stopper = Stopper(config, decode)
    # 1. Prefill: the prompt pass yields the first new token.
    t0 = clock()
    target.start(len(prompt) + config.max_new_tokens + 1)
    out = target.prefill(prompt)
    token = _next_token(out.logits[-1], config, generator)
    stats.target_forwards += 1
    t1 = clock()
    stats.prefill_s = t1 - t0
    # 2. Decode: feed the last token, take the next one.
    stopper.push(token)
    while not stopper.done:
        out = target.extend(torch.tensor([token], device=out.logits.device))
        stats.target_forwards += 1
        token = _next_token(out.logits[-1], config, generator)
        stopper.push(token)
    stats.decode_s = clock() - t1
    stats.new_tokens = len(stopper.tokens)
    stats.stop_reason = stopper.reason or ""
    return DecodeResult(token_ids=list(stopper.tokens), stats=stats)

"""Drafters for speculative decoding, behind one small interface.

* :class:`TargetDrafter`: a separate small model driven through the runtime's own
  :class:`~.target.Target` (e.g. the lean Llama forward of :mod:`.lean`), so drafting pays
  the runtime's per-forward cost rather than transformers'. :class:`DraftModelDrafter`
  builds one from a transformers causal LM (the drafter of transformers' assisted generation).
* :class:`EagleHeadDrafter`: an :class:`~.eagle.EagleHead` that reads the target's hidden
  states and shares its embeddings and LM head.

Protocol per generation: ``begin`` once after the target's prefill, then alternate
``propose(k)`` (k draft tokens, plus their draft distributions when sampling) and
``commit(accepted, tokens, features)`` after each verification.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn
from transformers.cache_utils import Cache

from .decoding import DecodeConfig, sample, sampling_probs
from .eagle import EagleHead
from .kv_cache import PreallocatedLayer, rollback
from .lean import make_target
from .target import Prompt, StepOutput, Target


@dataclass(frozen=True)
class DraftResult:
    """Up to ``k`` proposed tokens and, when sampling, the ``[n, V]`` distributions they came from."""

    tokens: list[int]
    probs: torch.Tensor | None = None


class Drafter(Protocol):
    """What the speculative loop needs from a drafter."""

    forwards: int  # draft-network forward calls so far
    feature_layers: tuple[int, ...] | None  # target features it reads (None: none)

    def begin(
        self, target: Target, prompt: Prompt, prefill: StepOutput, first_token: int, max_len: int
    ) -> None:
        """Start a generation: the target has consumed ``prompt`` and chose ``first_token``."""

    def propose(
        self, k: int, config: DecodeConfig, generator: torch.Generator | None
    ) -> DraftResult:
        """Draft up to ``k`` tokens after everything committed so far (fewer after a drafted EOS)."""

    def commit(self, accepted: int, tokens: list[int], features: torch.Tensor | None) -> None:
        """Sync after verification.

        Args:
            accepted: how many of the last proposal's tokens the target accepted.
            tokens: the committed tokens (accepted drafts + the target's own next token).
            features: target features of the verified positions ``[pending, d_1..d_accepted]``.
        """


def _pick(
    logits: torch.Tensor, config: DecodeConfig, generator: torch.Generator | None
) -> tuple[int, torch.Tensor | None]:
    if config.greedy:
        return int(torch.argmax(logits).item()), None
    q = sampling_probs(logits[None], config)[0]
    return sample(q, generator), q


def _draft_chain(
    logits: torch.Tensor,
    k: int,
    config: DecodeConfig,
    generator: torch.Generator | None,
    feed: Callable[[int], torch.Tensor],
) -> DraftResult:
    """Pick up to ``k`` tokens from a draft model, feeding each back (``feed``) for the next logits.

    The chain ends early at a drafted EOS: nothing after it could be kept, and the proposal
    length depends only on drafted tokens, so greedy and rejection-sampling verification
    stay exact.
    """
    tokens: list[int] = []
    probs: list[torch.Tensor] = []
    eos = config.eos_token_ids
    for i in range(k):
        tok, q = _pick(logits, config, generator)
        tokens.append(tok)
        if q is not None:
            probs.append(q)
        if tok in eos:
            break
        if i < k - 1:  # the last draft token is never fed: verification decides its fate
            logits = feed(tok)
    return DraftResult(tokens, torch.stack(probs) if probs else None)


def _to_vocab(logits: torch.Tensor, vocab: int) -> torch.Tensor:
    """Align draft logits with the target vocabulary (extra rows dropped, missing ones -inf)."""
    v = logits.shape[-1]
    if v == vocab:
        return logits
    if v > vocab:
        return logits[..., :vocab]
    pad = logits.new_full((*logits.shape[:-1], vocab - v), float("-inf"))
    return torch.cat([logits, pad], dim=-1)


class TargetDrafter:
    """A small draft model wrapped as a runtime :class:`~.target.Target` (see ``make_target``),
    so drafting pays the runtime's per-forward cost, the same as the target's.

    The draft reads ``Prompt.draft_ids`` when set, else the target's prompt itself: token
    ids, or (``reads_embeddings``) input embeddings, for a draft that shares the target's
    width and embedding space (e.g. a distilled few-layer copy of a VLM's decoder reading
    its image prefix).

    Args:
        draft: the draft model's target adapter; it must share the target's tokenizer.
        reads_embeddings: feed an embeddings prompt (without ``draft_ids``) to the draft.
    """

    feature_layers = None

    def __init__(self, draft: Target, reads_embeddings: bool = False) -> None:
        self.draft = draft
        self.reads_embeddings = reads_embeddings
        self.forwards = 0
        self._pending: list[int] = []  # committed tokens the draft has not been fed yet
        self._base = 0  # draft cache length before the current proposal's own tokens
        self._vocab = 0

    def begin(
        self, target: Target, prompt: Prompt, prefill: StepOutput, first_token: int, max_len: int
    ) -> None:
        if prompt.draft_ids is not None:
            prompt = Prompt(input_ids=prompt.draft_ids)
        elif prompt.input_ids is None and not self.reads_embeddings:
            raise ValueError(
                "a draft model needs token ids: set Prompt.draft_ids for an embeddings prompt "
                "(or reads_embeddings=True for a draft in the target's embedding space)"
            )
        self.draft.start(len(prompt) + max_len)
        self.draft.prefill(prompt)
        self.forwards += 1
        self._pending = [int(first_token)]
        self._vocab = target.vocab_size
        self._device = prefill.logits.device

    def _extend(self, tokens: list[int]) -> torch.Tensor:
        out = self.draft.extend(torch.tensor(tokens, device=self._device))
        self.forwards += 1
        return _to_vocab(out.logits[-1].float(), self._vocab)

    def propose(
        self, k: int, config: DecodeConfig, generator: torch.Generator | None
    ) -> DraftResult:
        logits = self._extend(self._pending)
        self._base = self.draft.length
        return _draft_chain(logits, k, config, generator, lambda tok: self._extend([tok]))

    def commit(self, accepted: int, tokens: list[int], features: torch.Tensor | None) -> None:
        # The cache holds d_1..d_{k-1} after ``_base``: keep the accepted ones, feed the rest.
        fed = min(accepted, self.draft.length - self._base)
        self.draft.rollback(self._base + fed)
        self._pending = [int(t) for t in tokens[fed:]]


class DraftModelDrafter(TargetDrafter):
    """A separate small causal LM with its own KV cache (as in transformers' assisted
    generation), run on the runtime's forward; it must share the target's tokenizer.

    Args:
        model: a transformers causal LM.
        cache_kind: KV cache kind of the hf forward (see :mod:`.kv_cache`).
        forward: ``auto`` (lean when supported), ``lean`` or ``hf`` (see ``make_target``).
    """

    def __init__(self, model: nn.Module, cache_kind: str = "prealloc", forward: str = "auto"):
        super().__init__(make_target(model, forward, cache_kind))
        self.model = model


class EagleHeadDrafter:
    """EAGLE-style drafting from the target's hidden states.

    Args:
        head: the draft head.
        skip_prefix: do not run the head over ``Prompt.prefix_len`` leading (image) positions;
            their keys never enter the head's cache (cheaper, must match how it was trained).
        lean: decode with the head's lean path (:class:`~.eagle.HeadKV`, same numbers) rather
            than transformers' attention and cache classes.
        full_vocab: project onto the whole vocabulary even when the head has a
            ``draft_vocab`` (see :meth:`~.eagle.EagleHead.logits`).
    """

    def __init__(
        self,
        head: EagleHead,
        skip_prefix: bool = False,
        lean: bool = True,
        full_vocab: bool = False,
    ) -> None:
        self.head = head
        self.skip_prefix = skip_prefix
        self.lean = lean
        self.full_vocab = full_vocab
        self.feature_layers = head.config.feature_layers
        self.forwards = 0
        self._target: Target | None = None
        self._streamed = False
        self._cache: Cache | None = None
        self._feat = self._emb = self._pos = None
        self._base_len = 0

    def begin(
        self, target: Target, prompt: Prompt, prefill: StepOutput, first_token: int, max_len: int
    ) -> None:
        if prefill.features is None:
            raise ValueError(
                "the target returned no features: build it with "
                f"feature_layers={self.feature_layers}"
            )
        self._target = target
        n = len(prompt)
        embeds = target.prompt_embeds(prompt)
        first = target.embed(torch.tensor([first_token], device=embeds.device))
        next_emb = torch.cat([embeds[1:], first.to(embeds.dtype)], dim=0)
        start = min(prompt.prefix_len, n - 1) if self.skip_prefix else 0
        self._feat = prefill.features[start:]
        self._emb = next_emb[start:]
        self._pos = torch.arange(start, n, device=embeds.device)
        # The target's projection choice (runtime/lean.py's linear), for the head's too.
        self._streamed = bool(getattr(target, "streamed", False))
        if self.lean:
            self._cache = self.head.new_cache(
                n - start + max_len, n + max_len, embeds, self._streamed
            )
        else:
            self._cache = Cache(layers=[PreallocatedLayer(n - start + max_len)])
        self._base_len = 0

    def _step(self, feat: torch.Tensor, emb: torch.Tensor, pos: torch.Tensor, own: bool):
        hidden = self.head(feat[None], emb[None], pos[None], self._cache, own_features=own)
        self.forwards += 1
        logits = self.head.logits(
            hidden[:, -1:], self._target.lm_head, self.full_vocab, self._streamed
        )
        logits = logits[0, -1].float()
        return hidden[:, -1], logits

    def propose(
        self, k: int, config: DecodeConfig, generator: torch.Generator | None
    ) -> DraftResult:
        hidden, logits = self._step(self._feat, self._emb, self._pos, own=False)
        self._base_len = int(self._cache.get_seq_length())
        state = {"hidden": hidden, "pos": self._pos[-1:] + 1}

        def feed(tok: int) -> torch.Tensor:  # the head reads its own previous hidden state
            emb = self._target.embed(torch.tensor([tok], device=state["pos"].device))
            state["hidden"], out = self._step(state["hidden"], emb, state["pos"], own=True)
            state["pos"] = state["pos"] + 1
            return out

        return _draft_chain(logits, k, config, generator, feed)

    def commit(self, accepted: int, tokens: list[int], features: torch.Tensor | None) -> None:
        if features is None or features.shape[0] != accepted + 1:
            raise ValueError(f"commit needs {accepted + 1} target feature rows, got {features}")
        # Drop the head's keys computed from its own (approximate) features; re-run the
        # committed positions with the target's true features at the next proposal.
        if self.lean:
            self._cache.truncate(self._base_len)
        else:
            rollback(self._cache, self._base_len)
        start = self._pos[-1] + 1
        self._feat = features
        self._emb = self._target.embed(torch.tensor(tokens, device=features.device))
        self._pos = torch.arange(accepted + 1, device=features.device) + start

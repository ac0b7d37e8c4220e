"""Shared pieces of every decoding loop: settings, stopping, sampling distribution, statistics.

Baseline decoding (:mod:`.greedy`) and speculative decoding (:mod:`.speculative`) commit
tokens through the same :class:`Stopper` one token at a time, so EOS, stop strings and
``max_new_tokens`` end both at exactly the same token, even inside a drafted block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

STOP_EOS = "eos"
STOP_STRING = "stop_string"
STOP_LENGTH = "max_new_tokens"


@dataclass(frozen=True)
class DecodeConfig:
    """Decoding settings shared by baseline and speculative decoding.

    Attributes:
        max_new_tokens: hard cap on generated tokens (>= 1).
        temperature: 0 means greedy (argmax); > 0 samples from the processed distribution.
        top_p: nucleus mass kept when sampling (1.0 keeps everything).
        top_k: keep the k most likely tokens when sampling (0 keeps everything).
        eos_token_ids: tokens that end generation (the EOS token is kept in the output ids).
        stop_strings: generation ends once the decoded new text contains one of these.
    """

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    eos_token_ids: tuple[int, ...] = ()
    stop_strings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        object.__setattr__(self, "eos_token_ids", tuple(int(t) for t in self.eos_token_ids))
        object.__setattr__(self, "stop_strings", tuple(self.stop_strings))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


class Stopper:
    """Accepts committed tokens one at a time and says when generation must end.

    Args:
        config: the decoding settings.
        decode: token ids -> text; required when ``config.stop_strings`` is not empty.
    """

    def __init__(
        self, config: DecodeConfig, decode: Callable[[list[int]], str] | None = None
    ) -> None:
        if config.stop_strings and decode is None:
            raise ValueError("stop_strings need a decode function (token ids -> text)")
        self.config = config
        self.decode = decode
        self.tokens: list[int] = []
        self.reason: str | None = None
        self._eos = frozenset(config.eos_token_ids)

    @property
    def done(self) -> bool:
        return self.reason is not None

    @property
    def remaining(self) -> int:
        return self.config.max_new_tokens - len(self.tokens)

    def push(self, token: int) -> bool:
        """Commit ``token``; returns True when generation ends with it."""
        if self.done:
            raise RuntimeError("push after generation ended")
        self.tokens.append(int(token))
        if token in self._eos:
            self.reason = STOP_EOS
        elif self.config.stop_strings and any(
            s in self.decode(self.tokens)  # type: ignore[misc]
            for s in self.config.stop_strings
        ):
            self.reason = STOP_STRING
        elif len(self.tokens) >= self.config.max_new_tokens:
            self.reason = STOP_LENGTH
        return self.done

    def push_all(self, tokens: Sequence[int]) -> int:
        """Commit tokens in order until one ends generation; returns how many were kept."""
        for i, tok in enumerate(tokens):
            if self.push(tok):
                return i + 1
        return len(tokens)


def sampling_probs(logits: torch.Tensor, config: DecodeConfig) -> torch.Tensor:
    """Temperature / top-k / top-p processed distribution, ``[T, V] -> [T, V]`` float32.

    Top-p keeps the smallest most-likely set whose mass reaches ``top_p`` (ties broken by
    sort order), then renormalises; the same function serves plain sampling, the target side
    and the draft side of speculative sampling.
    """
    if config.greedy:
        raise ValueError("sampling_probs called with temperature 0 (greedy)")
    logits = logits.float() / config.temperature
    if config.top_k and config.top_k < logits.shape[-1]:
        kth = torch.topk(logits, config.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if config.top_p < 1.0:
        sorted_p, idx = torch.sort(probs, dim=-1, descending=True)
        before = torch.cumsum(sorted_p, dim=-1) - sorted_p  # mass strictly before each token
        drop_sorted = before >= config.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, idx, drop_sorted)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


def sample(probs: torch.Tensor, generator: torch.Generator | None) -> int:
    """One draw from a ``[V]`` distribution."""
    return int(torch.multinomial(probs, 1, generator=generator).item())


@dataclass
class DecodeStats:
    """Per-sample statistics of one decoding call (DESIGN.md definitions).

    ``acceptance_length`` (tau) is tokens committed per target forward *after* the prefill
    (1.0 for plain decoding). ``accept_per_position[i]`` is the rate at which draft position
    ``i + 1`` was accepted among rounds where it was drafted and every earlier position was
    accepted.
    """

    new_tokens: int = 0
    target_forwards: int = 0
    draft_forwards: int = 0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    draft_s: float = 0.0
    verify_s: float = 0.0
    stop_reason: str = ""
    rounds: int = 0
    drafted_tokens: int = 0  # every token a drafter proposed (all rounds)
    accepted_tokens: int = 0  # of those, the ones the target kept
    drafted_per_position: list[int] = field(default_factory=list)
    accepted_per_position: list[int] = field(default_factory=list)

    @property
    def acceptance_length(self) -> float:
        decode_forwards = self.target_forwards - 1
        if decode_forwards <= 0:
            return 1.0
        return (self.new_tokens - 1) / decode_forwards

    @property
    def accept_per_position(self) -> list[float]:
        return [
            a / d if d else 0.0
            for a, d in zip(self.accepted_per_position, self.drafted_per_position, strict=True)
        ]

    def record_round(self, drafted: int, accepted: int) -> None:
        """Count one verify round where ``drafted`` tokens were proposed and ``accepted`` kept."""
        self.rounds += 1
        self.drafted_tokens += drafted
        self.accepted_tokens += accepted
        grow = drafted - len(self.drafted_per_position)
        if grow > 0:
            self.drafted_per_position += [0] * grow
            self.accepted_per_position += [0] * grow
        # position i is "tried" when all earlier positions were accepted
        for i in range(min(drafted, accepted + 1)):
            self.drafted_per_position[i] += 1
            if i < accepted:
                self.accepted_per_position[i] += 1

    def as_dict(self) -> dict[str, Any]:
        """Stats in the ``TextOutput.stats`` vocabulary (harness/system.py) plus extras."""
        d = asdict(self)
        d["acceptance_length"] = self.acceptance_length
        d["accept_per_position"] = self.accept_per_position
        return d


@dataclass
class DecodeResult:
    """Output of one decoding call: committed new token ids and statistics."""

    token_ids: list[int]
    stats: DecodeStats

    def to_text_output(self, text: str) -> Any:
        """Wrap as the harness ``TextOutput`` (text decoded by the caller's tokenizer)."""
        from hbench.harness.system import TextOutput

        return TextOutput(text=text, token_ids=list(self.token_ids), stats=self.stats.as_dict())


class Clock:
    """Wall clock that synchronises CUDA before reading, so GPU work is attributed correctly."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.cuda = torch.device(device).type == "cuda"

    def __call__(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

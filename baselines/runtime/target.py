"""The target-model interface of the decoding runtime and its transformers adapter.

The runtime (baseline greedy/sampling and speculative decoding) only sees a
:class:`Target`: a causal LM with a KV cache that can be rolled back to a length. A prompt
is token ids or a prefix of embeddings (image tokens merged by the caller), so LLaVA-style
models and the shapes target decode through the same loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from .kv_cache import cache_arg, cache_length, make_cache, rollback


@dataclass(frozen=True)
class Prompt:
    """One prompt at batch size 1.

    Attributes:
        input_ids: ``[P]`` token ids, or None when ``inputs_embeds`` is given.
        inputs_embeds: ``[P, H]`` input embeddings (e.g. image features merged with text).
        prefix_len: leading positions that are not text (image tokens); an EAGLE head may skip them.
        draft_ids: token ids a separate draft model should see (text-only drafters of a VLM);
            defaults to ``input_ids``.
        position_ids: ``[P]`` or ``[R, P]`` explicit positions (multimodal RoPE, e.g. Qwen2-VL's
            3-D positions); new tokens continue each row from its maximum + 1. None: 0..P-1.
    """

    input_ids: torch.Tensor | None = None
    inputs_embeds: torch.Tensor | None = None
    prefix_len: int = 0
    draft_ids: torch.Tensor | None = None
    position_ids: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if (self.input_ids is None) == (self.inputs_embeds is None):
            raise ValueError("Prompt needs exactly one of input_ids or inputs_embeds")
        if self.input_ids is not None and self.input_ids.dim() != 1:
            raise ValueError(f"input_ids must be 1-D [P], got shape {tuple(self.input_ids.shape)}")
        if self.inputs_embeds is not None and self.inputs_embeds.dim() != 2:
            raise ValueError(
                f"inputs_embeds must be 2-D [P, H], got shape {tuple(self.inputs_embeds.shape)}"
            )
        if len(self) == 0:
            raise ValueError("empty prompt")
        if self.position_ids is not None and self.position_ids.shape[-1] != len(self):
            raise ValueError(
                f"position_ids cover {self.position_ids.shape[-1]} positions, the prompt has {len(self)}"
            )

    def __len__(self) -> int:
        x = self.input_ids if self.input_ids is not None else self.inputs_embeds
        return int(x.shape[0])  # type: ignore[union-attr]


@dataclass(frozen=True)
class StepOutput:
    """What one target forward returns.

    Attributes:
        logits: ``[T, V]`` float32 logits of the positions asked for.
        features: ``[T_all, F]`` drafter features of *all* fed positions, or None when the
            target was built without feature layers.
    """

    logits: torch.Tensor
    features: torch.Tensor | None


class Target(Protocol):
    """A causal LM at batch size 1 with a rollback-able KV cache."""

    vocab_size: int

    def start(self, max_len: int) -> None:
        """Drop any state and allocate a cache for ``max_len`` positions."""

    def prefill(self, prompt: Prompt) -> StepOutput:
        """Feed the whole prompt; logits of the last position only."""

    def extend(self, token_ids: torch.Tensor) -> StepOutput:
        """Feed ``[T]`` new tokens after the cache; logits of all ``T`` positions."""

    def rollback(self, length: int) -> None:
        """Keep only the first ``length`` cached positions."""

    @property
    def length(self) -> int:
        """Positions currently in the cache."""

    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        """``[T] -> [T, H]`` input embeddings (shared with an EAGLE head)."""

    def prompt_embeds(self, prompt: Prompt) -> torch.Tensor:
        """``[P, H]`` input embeddings of a prompt."""

    @property
    def lm_head(self) -> nn.Module:
        """The output projection (shared with an EAGLE head)."""

    @property
    def forward_module(self) -> nn.Module:
        """The module called once per target forward (where profilers hook)."""


class HFCausalLMTarget:
    """:class:`Target` over a transformers causal LM or the text LM of a VLM.

    The forward runs the decoder (``model.get_decoder()``) and the LM head separately so
    that the vocabulary projection is only computed where logits are needed (the last
    prompt position at prefill). Models whose causal-LM forward post-processes logits
    (soft-capping, logit scale) are rejected rather than decoded subtly wrong.

    Args:
        model: a ``*ForCausalLM`` or ``*ForConditionalGeneration`` model in eval mode.
        cache_kind: see :mod:`.kv_cache` (``prealloc``, ``dynamic``, ``static``).
        feature_layers: ``hidden_states`` indices returned as drafter features, or None.
    """

    def __init__(
        self,
        model: nn.Module,
        cache_kind: str = "prealloc",
        feature_layers: tuple[int, ...] | None = None,
    ) -> None:
        self.model = model
        self.decoder = model.get_decoder()
        self._lm_head = model.get_output_embeddings()
        self._embed = model.get_input_embeddings()
        text = model.config.get_text_config(decoder=True)
        for attr in ("final_logit_softcapping", "logit_scale"):
            if getattr(text, attr, None) not in (None, 1.0):
                raise NotImplementedError(
                    f"{type(model).__name__}: {attr}={getattr(text, attr)} post-processes logits; "
                    "the runtime's decoder + lm_head forward does not support it"
                )
        rope = getattr(text, "rope_parameters", None) or {}
        # Multimodal RoPE needs the prompt's explicit positions (Prompt.position_ids).
        self.needs_positions = rope.get("mrope_section") is not None
        self.config = text
        self.vocab_size = int(self._lm_head.weight.shape[0])
        self.cache_kind = cache_kind
        self.feature_layers = tuple(feature_layers) if feature_layers else None
        self.cache = None
        self._pos_offset: torch.Tensor | None = None  # [R, 1] per-row offset, or None

    @property
    def lm_head(self) -> nn.Module:
        return self._lm_head

    @property
    def forward_module(self) -> nn.Module:
        return self.decoder

    @property
    def length(self) -> int:
        if self.cache is None:
            return 0
        return cache_length(self.cache)

    def start(self, max_len: int) -> None:
        self.cache = make_cache(self.config, max_len, self.cache_kind)
        self._pos_offset = None

    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self._embed(token_ids)

    def prompt_embeds(self, prompt: Prompt) -> torch.Tensor:
        if prompt.inputs_embeds is not None:
            return prompt.inputs_embeds
        return self.embed(prompt.input_ids)

    def _run(
        self,
        ids: torch.Tensor | None,
        embeds: torch.Tensor | None,
        last_only: bool,
        position_ids: torch.Tensor | None = None,
    ) -> StepOutput:
        if self.cache is None:
            raise RuntimeError("call start(max_len) before feeding tokens")
        want = self.feature_layers
        multi = want is not None and want != (-1,)
        out = self.decoder(
            input_ids=None if ids is None else ids[None],
            inputs_embeds=None if embeds is None else embeds[None],
            **cache_arg(self.decoder, self.cache),
            use_cache=True,
            output_hidden_states=multi,
            position_ids=position_ids,
        )
        hidden = out.last_hidden_state[0]
        features = None
        if want is not None:
            if multi:
                features = torch.cat([out.hidden_states[i][0] for i in want], dim=-1)
            else:
                features = hidden
        rows = hidden[-1:] if last_only else hidden
        return StepOutput(logits=self._lm_head(rows).float(), features=features)

    def prefill(self, prompt: Prompt) -> StepOutput:
        pos = prompt.position_ids
        if pos is None and self.needs_positions:
            raise ValueError(
                f"{type(self.model).__name__} uses multimodal RoPE: the prompt needs position_ids"
            )
        hf_pos = None
        if pos is not None:
            rows = pos if pos.dim() == 2 else pos[None]
            self._pos_offset = rows.max(dim=1, keepdim=True).values + 1 - len(prompt)
            hf_pos = rows[:, None] if pos.dim() == 2 else rows  # [R, 1, P] or [1, P]
        return self._run(
            prompt.input_ids, prompt.inputs_embeds, last_only=True, position_ids=hf_pos
        )

    def extend(self, token_ids: torch.Tensor) -> StepOutput:
        hf_pos = None
        if self._pos_offset is not None:
            start = self.length
            steps = torch.arange(start, start + token_ids.shape[0], device=token_ids.device)
            rows = steps[None] + self._pos_offset.to(token_ids.device)  # [R, T]
            hf_pos = rows[:, None] if rows.shape[0] > 1 else rows
        return self._run(token_ids, None, last_only=False, position_ids=hf_pos)

    def rollback(self, length: int) -> None:
        rollback(self.cache, length)

"""The decoding runtime's :class:`~hbench.baselines.runtime.target.Target` over BAGEL's NaViT LM.

BAGEL's understanding path (``Bagel.chat``) prefills ViT tokens per image and then the
``<|im_start|>prompt<|im_end|>`` text into a ``NaiveCache``, and decodes from the start token
``<|im_start|>`` one token per ``forward_inference`` call (``mode="und"``, causal, cache
updated). This adapter does the same prefill with BAGEL's own functions and generalises the
decode call to ``T`` tokens, so plain greedy decoding and speculative verification run
through the same code; rollback slices the cache. Image tokens share one RoPE position, so
the adapter tracks the RoPE offset next to the cache length.

Features for an EAGLE head are the LM's final normed hidden states (``feature_layers=(-1,)``,
what ``forward_inference`` returns); other layers are not exposed by BAGEL's API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hbench.baselines.runtime.target import Prompt, StepOutput

from .contexts import Session


class _Capture:
    """Forward hook on ``language_model.model`` recording what prefill feeds and returns."""

    def __init__(self) -> None:
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []

    def __call__(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        self.inputs.append(kwargs["packed_query_sequence"].detach())
        self.outputs.append(output.packed_query_sequence.detach())


class BagelTarget:
    """BAGEL's language model as a rollback-able causal target at batch size 1.

    Use :meth:`prepare` to turn ``(images, text)`` into a :class:`Prompt` (no forward runs),
    then hand the prompt to ``plain_decode`` / ``speculative_decode``.

    Args:
        session: The loaded BAGEL.
        feature_layers: ``None`` (no drafter features) or ``(-1,)``.
    """

    def __init__(self, session: Session, feature_layers: tuple[int, ...] | None = None) -> None:
        if feature_layers not in (None, (-1,)):
            raise NotImplementedError(
                f"bagel target exposes only the final hidden state (feature_layers=(-1,)), got {feature_layers}"
            )
        self.s = session
        self.lm = session.model.language_model
        self.feature_layers = feature_layers
        self.vocab_size = int(self.lm.lm_head.weight.shape[0])
        self.cache: Any = None
        self._len = 0
        self._rope_offset = 0  # rope position - cache length
        self._plan: tuple[list[dict[str, Any]], dict[str, Any], int] | None = None
        self._prompt: Prompt | None = None
        self._prompt_embeds: torch.Tensor | None = None

    # ---- Target protocol ------------------------------------------------------------------
    @property
    def lm_head(self) -> nn.Module:
        return self.lm.lm_head

    @property
    def length(self) -> int:
        return self._len

    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.lm.model.embed_tokens(token_ids)

    def prompt_embeds(self, prompt: Prompt) -> torch.Tensor:
        if prompt is not self._prompt or self._prompt_embeds is None:
            raise RuntimeError(
                "bagel target: prompt_embeds is known only after prefill of that prompt"
            )
        return self._prompt_embeds

    def start(self, max_len: int) -> None:
        self.cache = self.s.cache()
        self._len = 0
        self._rope_offset = 0

    def prepare(self, images: Sequence[Any], text: str) -> Prompt:
        """Plan the prefill of ``images`` then ``text`` (BAGEL's ``chat``); returns its prompt.

        The prompt's ids are the text ids (image positions hold the start-of-image id) ending
        with the start token; ``prefix_len`` covers the image positions.
        """
        m, s = self.s.model, self.s
        lens, rope = [0], [0]
        vit: list[dict[str, Any]] = []
        ids: list[int] = []
        for image in images:
            inp, lens, rope = m.prepare_vit_images(
                curr_kvlens=lens, curr_rope=rope, images=[image], transforms=s.und_transform or s.vit_transform,
                new_token_ids=s.new_token_ids,
            )  # fmt: skip
            vit.append(inp)
            ids += [s.new_token_ids["start_of_image"]] * int(inp["packed_seqlens"].sum())
        prefix = len(ids)
        text_in, lens, rope = m.prepare_prompts(
            curr_kvlens=lens, curr_rope=rope, prompts=[text], tokenizer=s.tokenizer,
            new_token_ids=s.new_token_ids,
        )  # fmt: skip
        text_ids = [int(t) for t in text_in["packed_text_ids"].tolist()]
        start = int(s.new_token_ids["bos_token_id"])
        ids += text_ids + [start]
        self._plan = (vit, text_in, rope[0])
        device = torch.device(s.device)
        self._prompt = Prompt(
            input_ids=torch.tensor(ids, dtype=torch.long, device=device),
            prefix_len=prefix,
            draft_ids=torch.tensor(text_ids + [start], dtype=torch.long, device=device),
        )
        self._prompt_embeds = None
        return self._prompt

    def prefill(self, prompt: Prompt) -> StepOutput:
        if prompt is not self._prompt or self._plan is None:
            raise RuntimeError("bagel target: call prepare(images, text) and prefill its prompt")
        vit, text_in, rope_after_text = self._plan
        m, s = self.s.model, self.s
        cap = _Capture()
        hook = self.lm.model.register_forward_hook(cap, with_kwargs=True)
        try:
            with s.amp():
                for inp in vit:
                    self.cache = m.forward_cache_update_vit(self.cache, **s.to_device(inp))
                self.cache = m.forward_cache_update_text(self.cache, **s.to_device(text_in))
        finally:
            hook.remove()
        self._len = int(self.cache.key_cache[0].shape[0])
        self._rope_offset = rope_after_text - self._len
        start = prompt.input_ids[-1:]
        out = self._run(start)
        embeds = [*cap.inputs, self.embed(start)]
        self._prompt_embeds = torch.cat([e.to(embeds[-1].dtype) for e in embeds])
        feats = None
        if self.feature_layers is not None:
            feats = torch.cat([*[o.to(out.features.dtype) for o in cap.outputs], out.features])
        return StepOutput(logits=out.logits[-1:], features=feats)

    def extend(self, token_ids: torch.Tensor) -> StepOutput:
        return self._run(token_ids)

    def rollback(self, length: int) -> None:
        if not 0 <= length <= self._len:
            raise ValueError(f"cannot roll back to {length}: the cache holds {self._len}")
        for layer in range(len(self.cache.key_cache)):
            if self.cache.key_cache[layer] is not None:
                self.cache.key_cache[layer] = self.cache.key_cache[layer][:length]
                self.cache.value_cache[layer] = self.cache.value_cache[layer][:length]
        self._len = length

    # ---- the decode call ------------------------------------------------------------------
    def _run(self, token_ids: torch.Tensor) -> StepOutput:
        """``Bagel.generate_text``'s step body, for ``T`` new tokens at once."""
        n, t = self._len, int(token_ids.shape[0])
        dev = token_ids.device
        extra = {"mode": "und"} if self.s.model.use_moe else {}
        with self.s.amp():
            out = self.lm.forward_inference(
                packed_query_sequence=self.embed(token_ids),
                query_lens=torch.tensor([t], dtype=torch.int, device=dev),
                packed_query_position_ids=torch.arange(t, device=dev) + n + self._rope_offset,
                packed_query_indexes=torch.arange(n, n + t, device=dev),
                past_key_values=self.cache,
                key_values_lens=torch.tensor([n], dtype=torch.int, device=dev),
                packed_key_value_indexes=torch.arange(n, device=dev),
                update_past_key_values=True,
                is_causal=True,
                **extra,
            )
            hidden = out.packed_query_sequence
            logits = self.lm.lm_head(hidden).float()
        self.cache = out.past_key_values
        self._len = n + t
        return StepOutput(logits=logits, features=hidden if self.feature_layers else None)

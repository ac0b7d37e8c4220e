"""The shapes target through transformers' own ``generate`` (the benchmark's peer).

``generate(inputs_embeds=..., assistant_model=...)`` cannot run in transformers 5.23: the
assistant's ``generate`` prefills with ``is_first_iteration=False`` (its generation config
has ``is_assistant``), so ``prepare_inputs_for_generation`` drops ``inputs_embeds`` and feeds
the empty ``input_ids`` (``RuntimeError: cannot reshape tensor of 0 elements``). This module
therefore gives transformers the LLaVA-style interface instead: placeholder ids for the image
positions plus the image embeddings as a model kwarg (``prefix_embeds``), which
``generate`` hands to every forward of the target and, through the copied model kwargs, of
the assistant. :class:`PrefixLlama` swaps the placeholder embeddings for the image
embeddings whenever a forward covers prefix positions, so greedy, assisted and
prompt-lookup generation all see exactly the prompt the target was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import LlamaForCausalLM

from hbench.baselines.runtime.kv_cache import passed_cache

from .model import ShapesVLM, image_tensor
from .tokenizer import prompt_ids


class PrefixLlama(LlamaForCausalLM):
    """``LlamaForCausalLM`` whose first ``prefix_embeds.shape[1]`` positions are image embeddings."""

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        prefix_embeds: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs: Any,
    ):
        """Llama forward; ``prefix_embeds`` (``[B, P, H]``) replace the ids at positions < P.

        The KV cache arrives as ``cache`` (transformers >= 5.24) or ``past_key_values``
        (earlier); it is passed on untouched under the name it came with.
        """
        if prefix_embeds is not None and input_ids is not None:
            cache = passed_cache(kwargs)
            past = 0 if cache is None else cache.get_seq_length()
            inputs_embeds = self.get_input_embeddings()(input_ids)
            n = min(prefix_embeds.shape[1] - past, input_ids.shape[1])
            if n > 0:  # this forward covers (part of) the image prefix
                img = prefix_embeds[:, past : past + n].to(inputs_embeds.dtype)
                inputs_embeds = torch.cat([img, inputs_embeds[:, n:]], dim=1)
            input_ids = None
        return super().forward(input_ids=input_ids, inputs_embeds=inputs_embeds, **kwargs)


def prefix_lm(lm: LlamaForCausalLM) -> PrefixLlama:
    """A :class:`PrefixLlama` sharing ``lm``'s modules (no weight copy)."""
    out = PrefixLlama(lm.config)
    out.model, out.lm_head = lm.model, lm.lm_head
    out.generation_config = lm.generation_config
    return out.to(lm.dtype).eval()


@torch.inference_mode()
def hf_decode(
    model: ShapesVLM,
    lm: PrefixLlama,
    tok,
    image: np.ndarray,
    prompt: str,
    max_new_tokens: int,
    **generate_kwargs: Any,
) -> list[int]:
    """Greedy new token ids (``<eos>`` kept when it ended) via ``lm.generate``.

    Args:
        model: the target (its image encoder makes the prefix embeddings).
        lm: the target's decoder as :class:`PrefixLlama` (see :func:`prefix_lm`).
        tok: the shapes tokenizer.
        image: (32, 32, 3) uint8 image.
        prompt: prompt text.
        max_new_tokens: stopping length (``<eos>`` stops earlier).
        **generate_kwargs: e.g. ``assistant_model`` or ``prompt_lookup_num_tokens``.
    """
    param = next(model.parameters())
    prefix = model.encoder(image_tensor(image).to(param.device, param.dtype))
    ids = [tok.pad_token_id] * prefix.shape[1] + prompt_ids(tok, prompt)
    ids = torch.tensor([ids], device=param.device)
    out = lm.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        prefix_embeds=prefix,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **generate_kwargs,
    )
    return out[0, ids.shape[1] :].tolist()

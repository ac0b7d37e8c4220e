"""Plain KV-cached greedy decoding through ``transformers`` (training-time evaluation)."""

from __future__ import annotations

import numpy as np
import torch

from hbench.baselines.shapes.understanding.model import ShapesVLM, image_tensor
from hbench.baselines.shapes.understanding.tokenizer import prompt_ids


@torch.inference_mode()
def hf_greedy(
    model: ShapesVLM, tok, image: np.ndarray | None, prompt: str, max_new_tokens: int
) -> list[int]:
    """Greedy ids via ``LlamaForCausalLM.generate(inputs_embeds=...)`` (stops at ``<eos>``)."""
    param = next(model.parameters())
    ids = torch.tensor([prompt_ids(tok, prompt)], device=param.device)
    img = None if image is None else image_tensor(image).to(param.device, param.dtype)
    embeds = model.embed_prompt(img, ids)
    out = model.lm.generate(
        inputs_embeds=embeds,
        attention_mask=torch.ones(embeds.shape[:2], dtype=torch.long, device=param.device),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return [int(t) for t in out[0].tolist()]


def strip_eos(tok, ids: list[int]) -> list[int]:
    return ids[: ids.index(tok.eos_token_id)] if tok.eos_token_id in ids else ids

"""Tiny random-weight transformers models shared by the speculative-decoding tests."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

VOCAB = 96
SMALL = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    bos_token_id=None,
    eos_token_id=None,
    pad_token_id=None,
)


def build(kind: str, seed: int) -> torch.nn.Module:
    """A tiny random causal LM ('llama' or 'qwen2') with deterministic weights."""
    torch.manual_seed(seed)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(**SMALL))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(**SMALL, use_sliding_window=False))
    return model.eval()


def perturbed(model: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    """A copy of ``model`` with Gaussian noise on every weight: a partially agreeing drafter."""
    copy = type(model)(model.config).eval()
    copy.load_state_dict(model.state_dict())
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in copy.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))
    return copy


def prompts(n: int, seed: int = 0, length: int = 6) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, VOCAB, (length + i,), generator=gen) for i in range(n)]


def prefix_embeds_prompt(model: torch.nn.Module, prefix_len: int = 8):
    """A VLM-style prompt: ``prefix_len`` non-token embeddings, then text.

    Returns:
        ``([P, H] input embeddings, [T] text token ids)``.
    """
    gen = torch.Generator().manual_seed(4)
    prefix = 0.02 * torch.randn(prefix_len, model.config.hidden_size, generator=gen)
    text = prompts(1, seed=2)[0]
    with torch.no_grad():
        embeds = torch.cat([prefix, model.get_input_embeddings()(text)])
    return embeds, text

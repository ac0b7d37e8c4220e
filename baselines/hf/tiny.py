"""Tiny random-weight transformers models built offline, for tests, CI and benchmark demos.

A word-level tokenizer over a small English vocabulary, causal LMs (Llama / Qwen2) with a
smaller draft model sharing that tokenizer, a LLaVA-style VLM with a CLIP vision tower and
its processor, and an untrained EAGLE head file. The text they produce is nonsense; what they
exercise is the real loading, prompting, caching and decoding plumbing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

WORDS = (
    "a an the is are of and or to in on with what which where how many colour shape "
    "red green blue yellow purple orange circle square triangle left right above below "
    "one two three four yes no answer question image picture there it this that big small "
    "cat dog house tree car sky sun water book table chair red-ish , . ? ! : 0 1 2 3 4 5 "
    "6 7 8 9 A B C D true false"
).split()
WORDS = tuple(dict.fromkeys(WORDS))  # unique, ordered
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>", "<image>")


def build_tokenizer() -> Any:
    """A word-level ``PreTrainedTokenizerFast`` (BOS added, EOS ``</s>``, ``<image>`` special)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", vocab["<s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={"image_token": "<image>"},
    )


def _text_config(kind: str, vocab: int, hidden: int, layers: int, **extra: Any) -> Any:
    from transformers import LlamaConfig, Qwen2Config

    common = dict(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        **extra,
    )
    if kind == "llama":
        return LlamaConfig(**common)
    if kind == "qwen2":
        return Qwen2Config(**common, use_sliding_window=False)
    raise ValueError(f"unknown tiny LM kind {kind!r}: use llama or qwen2")


def build_tiny_lm(
    path: str | Path, kind: str = "llama", seed: int = 0, hidden: int = 64, layers: int = 2
) -> Path:
    """Save a tiny random causal LM and its tokenizer to ``path``."""
    from transformers import AutoModelForCausalLM

    path = Path(path)
    tok = build_tokenizer()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(_text_config(kind, len(tok), hidden, layers))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def build_tiny_draft(
    target_path: str | Path, path: str | Path, noise: float, seed: int = 0
) -> Path:
    """A draft model: the target's weights plus Gaussian noise (a partially agreeing drafter)."""
    from transformers import AutoModelForCausalLM

    from .engine import load_tokenizer

    target_path, path = Path(target_path), Path(path)
    model = AutoModelForCausalLM.from_pretrained(str(target_path), local_files_only=True)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(noise * torch.randn(p.shape, generator=gen))
    model.save_pretrained(path)
    load_tokenizer(target_path).save_pretrained(path)
    return path


def build_tiny_llava(
    path: str | Path, seed: int = 0, hidden: int = 64, image_size: int = 16
) -> Path:
    """Save a tiny LLaVA (CLIP vision tower, Llama text model) and its processor to ``path``."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    path = Path(path)
    tok = build_tokenizer()
    patch = image_size // 2
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=patch,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_text_config("llama", len(tok), hidden, 2),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    size = {"shortest_edge": image_size}
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size=size, crop_size={"height": image_size, "width": image_size}
        ),
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy="default",
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def build_tiny_head(target_path: str | Path, path: str | Path, seed: int = 0) -> Path:
    """An untrained EAGLE head shaped for the target in ``target_path`` (safetensors)."""
    from transformers import AutoConfig

    from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig

    config = AutoConfig.from_pretrained(str(target_path), local_files_only=True)
    torch.manual_seed(seed)
    head = EagleHead(EagleHeadConfig.for_target(config))
    head.save(path)
    return Path(path)

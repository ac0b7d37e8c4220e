"""A tiny *real* BAGEL with random weights, built offline from a checkout's own classes.

For tests and CI: BAGEL's ``Bagel`` / ``Qwen2ForCausalLM`` (MoT) / ``SiglipVisionModel`` /
``AutoEncoder`` at toy sizes, saved as a weights folder in the layout of BAGEL-7B-MoT with a
byte-level tokenizer, and a :class:`~.loading.ModelPool` loader that gives every session small
image transforms. What it produces is noise; what it exercises is BAGEL's own code paths.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

LLM = dict(
    vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
    rope_theta=10000.0, rms_norm_eps=1e-6, hidden_act="silu", tie_word_embeddings=False,
)  # fmt: skip
VIT = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
    num_channels=3, image_size=980, patch_size=14, hidden_act="gelu_pytorch_tanh",
    layer_norm_eps=1e-6,
)  # fmt: skip
# Editing input long edge / short edge (the VAE transform's max and min size) of the tiny model.
EDIT_MAX, EDIT_MIN = 64, 32


def tiny_ae_params(code: Any) -> Any:
    """``AutoEncoderParams`` of a small VAE with BAGEL's latent layout (16 channels, /8)."""
    return code.autoencoder.AutoEncoderParams(
        resolution=64, in_channels=3, downsample=8, ch=32, out_ch=3, ch_mult=[1, 1, 1, 1],
        num_res_blocks=1, z_channels=16, scale_factor=0.3611, shift_factor=0.1159,
    )  # fmt: skip


def _byte_vocab() -> dict[str, int]:
    # GPT-2 byte-to-unicode table: every byte is one token, no merges.
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(0xA1, 0xAC + 1))
        + list(range(0xAE, 0xFF + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): i for i, c in enumerate(cs)}


def write_tiny_weights(code: Any, root: Path, seed: int = 0) -> Path:
    """Write a BAGEL-7B-MoT-shaped folder with toy sizes and random weights to ``root``."""
    from safetensors.torch import save_file

    from .loading import build_bagel

    root.mkdir(parents=True, exist_ok=True)
    (root / "vocab.json").write_text(json.dumps(_byte_vocab()))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tokenizer, _, _ = code.data_utils.add_special_tokens(
        code.tokenizer_cls.from_pretrained(str(root))
    )
    # Vocabulary = the tokenizer's, so every id the random model picks decodes.
    (root / "llm_config.json").write_text(json.dumps({**LLM, "vocab_size": len(tokenizer)}))
    (root / "vit_config.json").write_text(json.dumps(VIT))
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG is left as it was
        torch.manual_seed(seed)
        model, vae = build_bagel(code, root, tiny_ae_params(code), load_ae_weights=False)
        with torch.no_grad():
            for p in model.parameters():  # llm2vae starts at zero in BAGEL: make every path matter
                p.add_(torch.randn_like(p) * 0.05)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "ema.safetensors")
    )
    save_file(
        {k: v.contiguous() for k, v in vae.state_dict().items()}, str(root / "ae.safetensors")
    )
    return root


def load_tiny_session(
    checkout: str, weights: str, device: str, dtype: torch.dtype, autocast: str
) -> Any:
    """``load_session`` for a tiny folder: the small VAE and small image transforms."""
    from .checkout import import_bagel
    from .loading import load_session

    code = import_bagel(checkout)
    s = load_session(checkout, weights, device, dtype, autocast, ae_params=tiny_ae_params(code))
    tr = s.code.transforms.ImageTransform
    s.vae_transform = tr(EDIT_MAX, EDIT_MIN, 16)
    s.vit_transform = tr(56, 28, 14)
    s.und_transform = tr(56, 28, 14)
    return s

"""Fixtures of the bagel tests: a tiny *real* BAGEL built from the official code.

Tests marked with the ``bagel_checkout`` fixture need a clone of ByteDance-Seed/Bagel; they
look at ``$HBENCH_BAGEL_CHECKOUT`` and are skipped without it (hbench never vendors BAGEL's
code). The model is BAGEL's own ``Bagel`` / ``Qwen2ForCausalLM`` (MoT) / ``SiglipVisionModel``
/ ``AutoEncoder`` at toy sizes with random weights, saved as a weights folder in the layout
of BAGEL-7B-MoT, plus a byte-level tokenizer. Where flash-attention is not installed the
loader registers hbench's PyTorch stand-in.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import pytest
import torch

CHECKOUT_ENV = "HBENCH_BAGEL_CHECKOUT"

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


def tiny_ae_params(code):
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


def write_tiny_weights(code, root: Path, seed: int = 0) -> Path:
    """A BAGEL-7B-MoT-shaped folder with toy sizes and random weights."""
    from safetensors.torch import save_file

    from hbench.baselines.bagel.loading import build_bagel

    root.mkdir(parents=True, exist_ok=True)
    (root / "vocab.json").write_text(json.dumps(_byte_vocab()))
    (root / "merges.txt").write_text("#version: 0.2\n")
    tokenizer, _, _ = code.data_utils.add_special_tokens(
        code.tokenizer_cls.from_pretrained(str(root))
    )
    # Vocabulary = the tokenizer's, so every id the random model picks decodes.
    (root / "llm_config.json").write_text(json.dumps({**LLM, "vocab_size": len(tokenizer)}))
    (root / "vit_config.json").write_text(json.dumps(VIT))
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


@pytest.fixture(scope="session")
def bagel_checkout() -> Path:
    path = os.environ.get(CHECKOUT_ENV)
    if not path or not Path(path, "modeling/bagel/bagel.py").is_file():
        pytest.skip(f"set {CHECKOUT_ENV} to a clone of ByteDance-Seed/Bagel to run real-code tests")
    try:
        import cv2  # noqa: F401  (BAGEL's data.transforms)
        import einops  # noqa: F401  (BAGEL's autoencoder)
    except ImportError as err:
        pytest.skip(f"BAGEL's requirements are not installed: {err}")
    return Path(path)


@pytest.fixture(scope="session")
def tiny_bagel(bagel_checkout, tmp_path_factory):
    """``(checkout, weights_dir, pool)``: a ModelPool that loads the tiny VAE."""
    torch.set_num_threads(1)
    from hbench.baselines.bagel.checkout import import_bagel
    from hbench.baselines.bagel.loading import ModelPool, load_session, prepare_attention

    prepare_attention("auto")
    code = import_bagel(bagel_checkout)
    weights = write_tiny_weights(code, tmp_path_factory.mktemp("tiny-bagel"))
    pool = ModelPool(loader=partial(load_session, ae_params=tiny_ae_params(code)))
    return bagel_checkout, weights, pool


@pytest.fixture(scope="session")
def tiny_session(tiny_bagel):
    """The loaded tiny BAGEL (float32, CPU) with small editing / understanding transforms."""
    checkout, weights, pool = tiny_bagel
    s = pool.get(str(checkout), str(weights), "cpu", torch.float32, "bfloat16")
    tr = s.code.transforms.ImageTransform
    s.vae_transform = tr(64, 32, 16)
    s.vit_transform = tr(56, 28, 14)
    s.und_transform = tr(56, 28, 14)
    return s

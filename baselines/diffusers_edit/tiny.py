"""A tiny, randomly initialised InstructPix2Pix pipeline built offline from configs.

For tests and demos on a CPU with no model hub: an 8-channel-input UNet (4 noise + 4
image-latent channels), a small VAE, a one-layer CLIP text encoder and a character-level
CLIP tokenizer written here. The edits are noise; what it exercises is the real
loading, image conditioning, three-row guidance and NFE plumbing.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hbench.baselines.diffusers.tiny import write_tokenizer_files


def build_tiny_unet(seed: int = 0):
    """A tiny InstructPix2Pix UNet (8 input channels)."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=16,
        in_channels=8,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
    )


def build_tiny_ip2p(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny random ``StableDiffusionInstructPix2PixPipeline`` to ``path``.

    Returns:
        ``path``, loadable with ``DiffusionPipeline.from_pretrained(path)``.
    """
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    path = Path(path)
    unet = build_tiny_unet(seed)
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(
        block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=32,
    )
    vocab_file, merges_file = write_tokenizer_files(path / "_tokenizer_src")
    tokenizer = CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=77)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            projection_dim=16,
        )  # fmt: skip
    )
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"
    )
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(path, safe_serialization=True)
    return path

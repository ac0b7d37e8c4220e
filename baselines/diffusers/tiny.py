"""Tiny, randomly initialised diffusers pipelines built offline from configs.

For tests, CI and demos on a CPU with no model hub: a Stable-Diffusion-shaped pipeline
(tiny UNet, VAE, CLIP text encoder, and a character-level CLIP tokenizer whose vocab and
merges are written here), plus a distillation LoRA and a distilled student for it. The
images are noise; what they exercise is the real loading, scheduling and NFE plumbing.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

import torch


def write_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """A character-level CLIP BPE vocabulary (no merges): every lowercase text tokenises."""
    vocab: dict[str, int] = {}
    for ch in "!" + string.ascii_lowercase + string.digits + "'(),-.:;?":
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    # Special tokens last, as in CLIP's vocabulary (OWL models mask queries whose first id is 0).
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(vocab))
    merges_file.write_text("#version: 0.2\n")
    return vocab_file, merges_file


def build_tiny_sd(path: str | Path, seed: int = 0, sample_size: int = 8) -> Path:
    """Save a tiny random ``StableDiffusionPipeline`` to ``path`` (images of 2 x sample_size px).

    Returns:
        ``path``, loadable with ``DiffusionPipeline.from_pretrained(path)``.
    """
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    path = Path(path)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=sample_size,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=2 * sample_size,
    )
    with tempfile.TemporaryDirectory() as tmp:  # save_pretrained writes the tokenizer files
        vocab_file, merges_file = write_tokenizer_files(Path(tmp))
        tokenizer = CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=77)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=77,
            projection_dim=16,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    scheduler = DDIMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)
    return path


def build_tiny_lora(
    pipeline_path: str | Path, out: str | Path, rank: int = 2, seed: int = 1
) -> Path:
    """Save a random, non-zero LoRA for the tiny pipeline's UNet attention (diffusers format)."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft import LoraConfig, get_peft_model_state_dict

    out = Path(out)
    unet = UNet2DConditionModel.from_pretrained(Path(pipeline_path) / "unet")
    unet.add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    )
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if "lora_" in name:  # lora_B starts at zero: make the adapter change something
                param.copy_(0.5 * torch.randn(param.shape, generator=gen))
    StableDiffusionPipeline.save_lora_weights(out, unet_lora_layers=get_peft_model_state_dict(unet))
    return out


def build_tiny_student(pipeline_path: str | Path, out: str | Path, seed: int = 2) -> Path:
    """Save a 'distilled' UNet: the tiny pipeline's UNet with perturbed weights."""
    from diffusers import UNet2DConditionModel

    out = Path(out)
    unet = UNet2DConditionModel.from_pretrained(Path(pipeline_path) / "unet")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in unet.parameters():
            param.add_(0.01 * torch.randn(param.shape, generator=gen))
    unet.save_pretrained(out)
    return out

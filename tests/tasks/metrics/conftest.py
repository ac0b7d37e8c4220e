"""Fixtures for the image-metrics tests: tiny random-weight models saved to temporary folders.

The real models (open_clip ViT-H-14 for HPSv2, CLIP-H for PickScore, CLIP ViT-L/14 for
CLIPScore and the aesthetic predictor, Inception v3 for FID) are 0.1-1 B parameters and
too big to build on a CPU in a test; the fixtures build tiny models of the same
architecture families (open_clip ``CLIP`` from a registered tiny config, transformers
``CLIPModel`` from a tiny ``CLIPConfig``) with random weights and save them the way the
real checkpoints are shipped. They exercise loading, preprocessing, batching, caching and
scoring; the numbers themselves mean nothing.

A test system family ``metrics-test`` gives two variants that differ in image quality:
``clean`` renders the shapes world exactly (the oracle), ``blurred`` is the same image
through a 3x3 box blur.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from metrics_helpers import DegradedFamily
from PIL import Image

from hbench.harness import plugins

TINY_OPEN_CLIP = "hbench-metrics-tiny"


@pytest.fixture(scope="session")
def tiny_open_clip(tmp_path_factory) -> dict[str, Any]:
    """A tiny open_clip CLIP (registered config) saved as safetensors and as an HPS-style .pt."""
    import open_clip
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("open_clip")
    config = folder / f"{TINY_OPEN_CLIP}.json"
    config.write_text(json.dumps({
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
    }))  # fmt: skip
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_OPEN_CLIP, pretrained=None)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(folder / "clip.safetensors"))
    # HPSv2's official checkpoint layout: a torch file holding {"state_dict": ...}.
    torch.save({"state_dict": sd}, folder / "HPS_v2_compressed.pt")
    return {
        "model": TINY_OPEN_CLIP,
        "model_config": str(config),
        "safetensors": str(folder / "clip.safetensors"),
        "hps_pt": str(folder / "HPS_v2_compressed.pt"),
        "net": model.eval(),
    }


@pytest.fixture(scope="session")
def tiny_hf_clip(tmp_path_factory) -> Path:
    """A tiny transformers CLIPModel + CLIPProcessor (character-level tokenizer) folder."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from hbench.baselines.diffusers.tiny import write_tokenizer_files

    folder = tmp_path_factory.mktemp("hf_clip")
    vocab, merges = write_tokenizer_files(folder / "tok")
    tok = CLIPTokenizer(str(vocab), str(merges), model_max_length=32, pad_token="!")
    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
           "pad_token_id": tok.pad_token_id}  # fmt: skip
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=32, **ids),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=16),
        projection_dim=12,
    )  # fmt: skip
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(folder / "model")
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(folder / "model")
    return folder / "model"


@pytest.fixture(scope="session")
def aesthetic_head(tmp_path_factory) -> Path:
    """An MLP head in the LAION v2 predictor's key layout (narrow widths), 16-d input."""
    from safetensors.torch import save_file

    torch.manual_seed(1)
    dims = [(16, 8), (8, 6), (6, 4), (4, 3), (3, 1)]
    sd = {}
    for i, (a, b) in zip((0, 2, 4, 6, 7), dims, strict=True):
        layer = torch.nn.Linear(a, b)
        sd[f"layers.{i}.weight"], sd[f"layers.{i}.bias"] = layer.weight.data, layer.bias.data
    path = tmp_path_factory.mktemp("aesthetic") / "head.safetensors"
    save_file(sd, str(path))
    return path


@pytest.fixture(scope="session")
def reference_folder(tmp_path_factory) -> Path:
    """24 rendered shapes-world scenes as PNGs (the FID/KID reference set)."""
    from hbench.worlds.shapes import render, sample_scene

    folder = tmp_path_factory.mktemp("reference")
    rng = np.random.default_rng(0)
    for i in range(24):
        scene = sample_scene(rng, int(rng.integers(1, 4)))
        Image.fromarray(render(scene)).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture
def degraded_family():
    """Register the ``metrics-test`` family for one test."""
    plugins.SYSTEMS.add("metrics-test", DegradedFamily, "test fixture")
    yield DegradedFamily
    plugins.SYSTEMS._entries.pop("metrics-test")
    plugins.SYSTEMS._help.pop("metrics-test")

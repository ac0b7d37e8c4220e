"""The shapes denoiser's building blocks: position-aware attention queries, config compatibility."""

from __future__ import annotations

import json

import torch

from hbench.baselines.shapes.generator import build_image_engine
from hbench.baselines.shapes.generator.network import (
    Attention,
    GeneratorConfig,
    ShapesDenoiser,
    sincos_2d,
)
from hbench.baselines.shapes.generator.tokens import WordTokenizer
from hbench.baselines.shapes.generator.weights import MANIFEST
from hbench.baselines.shapes.training.generator import train


def _attention_pos(net: ShapesDenoiser) -> list[str]:
    return [k for k in net.state_dict() if k.endswith(".pos") and not k.startswith("text.")]


def _spatial_spread(attn: Attention, kv: torch.Tensor) -> float:
    """Largest spread across pixels of the output for an input that is the same everywhere."""
    torch.manual_seed(0)
    x = torch.randn(1, 16, 1, 1).expand(1, 16, 4, 4).contiguous()  # differs over channels only
    with torch.no_grad():
        out = attn(x, kv) - x
    return float(out.flatten(2).std(dim=2).max())


def test_position_queries_tell_pixels_apart():
    torch.manual_seed(0)
    words = torch.randn(1, 5, 8)
    torch.manual_seed(1)
    blind = Attention(16, 8, heads=2)
    torch.manual_seed(1)
    placed = Attention(16, 8, heads=2, side=4)
    # Without positions every pixel asks the words the same question and gets the same
    # answer, so text cannot say where to draw.
    assert _spatial_spread(blind, words) < 1e-6
    assert _spatial_spread(placed, words) > 1e-3


def test_sincos_positions_are_distinct_per_pixel():
    pos = sincos_2d(8, 32)
    assert pos.shape == (64, 32)
    assert torch.cdist(pos, pos).add(torch.eye(64) * 10).min() > 0.1


def test_configs_without_the_field_keep_the_old_layout():
    old = GeneratorConfig(vocab_size=WordTokenizer().size).to_dict()
    del old["pos_queries"]  # a manifest written before the field existed
    cfg = GeneratorConfig.from_dict(old)
    assert cfg.pos_queries is False
    assert _attention_pos(ShapesDenoiser(cfg)) == []
    placed = ShapesDenoiser(GeneratorConfig(vocab_size=WordTokenizer().size, pos_queries=True))
    assert len(_attention_pos(placed)) == 4


def test_train_flag_exports_a_loadable_position_aware_teacher(tmp_path):
    w = tmp_path / "w"
    tiny = ["--channels", "8,16,32", "--text-dim", "32", "--batch", "4", "--steps", "1"]
    assert (
        train.main(["--out", str(tmp_path / "t"), "--weights-dir", str(w), "--pos-queries", *tiny])
        == 0
    )
    entry = json.loads((w / MANIFEST).read_text())["files"]["generator_teacher.safetensors"]
    assert entry["config"]["pos_queries"] is True
    eng = build_image_engine("teacher", w)
    eng.load("cpu", torch.float32)
    assert eng.net is not None and eng.net.xattn2.pos is not None
    assert eng.generate("a photo of a red circle", 0).shape == (32, 32, 3)

"""Automatic edit metrics: CLIP direction (tiny open_clip from a local dir), SSIM/PSNR, LPIPS."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hbench.tasks.gedit.metrics import EditMetrics, MetricsConfig, lpips_weights_file
from hbench.tasks.gedit.shapes_source import edited_region, scene_caption, shapes_edits
from hbench.worlds.shapes import render

EDIT = shapes_edits(("color_alter",), 1, seed=0)[0][1]


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A tiny open_clip model saved in open_clip's local-dir layout (random weights)."""
    import open_clip
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("tiny_clip")
    cfg = {
        "embed_dim": 16,
        "vision_cfg": {
            "image_size": 32,
            "layers": 1,
            "width": 32,
            "patch_size": 8,
            "head_width": 16,
        },
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 32,
            "heads": 2,
            "layers": 1,
        },
    }
    (path / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": cfg, "preprocess_cfg": {}})
    )
    torch.manual_seed(0)
    model = open_clip.CLIP(**cfg)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(path / "open_clip_model.safetensors"),
    )
    return path


def _img(arr):
    return Image.fromarray(arr)


def test_preservation_is_measured_outside_the_edited_region(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    m = EditMetrics()
    src, exp = render(EDIT.source), render(EDIT.expected)
    region = edited_region(EDIT)
    good = m.compute(_img(src), _img(exp), region)
    assert good["preserve_ssim"] == pytest.approx(1.0, abs=1e-9) and good["preserve_psnr"] == 100.0
    spoiled = exp.copy()
    spoiled[~region] = 255 - spoiled[~region]  # damage only what should have stayed
    bad = m.compute(_img(src), _img(spoiled), region)
    assert bad["preserve_ssim"] < 0.5 and bad["preserve_psnr"] < 10.0
    inside = src.copy()
    inside[region] = 0  # damage only the edited region: preservation unaffected
    assert m.compute(_img(src), _img(inside), region)["preserve_psnr"] == 100.0
    whole = m.compute(_img(src), _img(inside))  # no mask: the whole image counts
    assert whole["preserve_psnr"] < 100.0
    assert "preserve_lpips" not in whole and "not found" in m.unavailable["preserve_lpips"]
    assert "clip_dir" in m.unavailable


def test_lpips_runs_when_backbone_weights_are_local(monkeypatch, tmp_path):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = lpips_weights_file("squeeze")
    weights.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(
        torchvision.models.squeezenet1_1().state_dict(), weights
    )  # stand-in for the ImageNet file
    m = EditMetrics(MetricsConfig(lpips_net="squeeze"))
    src, exp = render(EDIT.source), render(EDIT.expected)
    same = m.compute(_img(src), _img(src))
    other = m.compute(_img(src), _img(255 - src))
    assert same["preserve_lpips"] == pytest.approx(0.0, abs=1e-6) and other["preserve_lpips"] > 0.0
    assert m.compute(_img(src), _img(exp), edited_region(EDIT))["preserve_lpips"] == pytest.approx(
        0.0, abs=1e-6
    )


def test_clip_directional_similarity(tiny_clip_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    m = EditMetrics(MetricsConfig(clip_model=f"local-dir:{tiny_clip_dir}"))
    src, exp = render(EDIT.source), render(EDIT.expected)
    captions = (scene_caption(EDIT.source), scene_caption(EDIT.expected))
    d = m.compute(_img(src), _img(exp), edited_region(EDIT), captions)["clip_dir"]
    assert -1.0 <= d <= 1.0 and d != 0.0
    # No image change: the image direction is zero, so is the cosine.
    assert m.compute(_img(src), _img(src), None, captions)["clip_dir"] == pytest.approx(
        0.0, abs=1e-6
    )
    assert "clip_dir" not in m.compute(
        _img(src), _img(exp)
    )  # no captions (GEdit-Bench): not computed
    assert np.isfinite(d)

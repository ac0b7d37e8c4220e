"""HPSv2, PickScore, CLIPScore and aesthetic metrics on tiny random-weight models built
offline (see conftest.py for why tiny): loading, scores against a direct computation,
batching invariance, torchmetrics parity, checkpoint formats and missing-file errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from hbench.tasks.metrics.aesthetic import AestheticMetric, AestheticOptions, build_head
from hbench.tasks.metrics.base import MissingCheckpointError, load_state_dict
from hbench.tasks.metrics.clipscore import ClipScoreMetric, ClipScoreOptions
from hbench.tasks.metrics.preference import (
    HPSv2Metric,
    HPSv2Options,
    PickScoreMetric,
    PickScoreOptions,
)
from hbench.worlds.shapes import render, sample_scene

IMAGES = [Image.fromarray(render(sample_scene(np.random.default_rng(s), 2))) for s in range(5)]
TEXTS = ["a photo of a red circle", "two blue squares", "a green triangle", "a cat", "x"]


def _scores(metric, images=IMAGES, texts=TEXTS, batch=None):
    img, txt = [], []
    step = batch or len(images)
    for i in range(0, len(images), step):
        img.append(metric.image_features(images[i : i + step]))
        if metric.needs_text:
            txt.append(metric.text_features(texts[i : i + step]))
    return metric.score(np.concatenate(img), np.concatenate(txt) if txt else None)


def test_hpsv2_official_checkpoint_format_and_score(tiny_open_clip):
    o = tiny_open_clip
    m = HPSv2Metric(
        HPSv2Options(checkpoint=o["hps_pt"], model=o["model"], model_config=o["model_config"])
    )
    m.load("cpu")
    got = _scores(m)
    # direct: 100 x cosine of open_clip's normalised embeddings (the official formula x100)
    net = o["net"]
    with torch.no_grad():
        im = net.encode_image(torch.stack([m.preprocess(i) for i in IMAGES]), normalize=True)
        tx = net.encode_text(m.tokenizer(TEXTS), normalize=True)
    np.testing.assert_allclose(got, 100 * (im * tx).sum(-1).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_scores(m, batch=2), got, rtol=1e-4, atol=1e-4)  # batching
    assert got.shape == (5,) and np.all(np.abs(got) <= 100)
    # safetensors of the same tensors loads to the same model
    m2 = HPSv2Metric(
        HPSv2Options(checkpoint=o["safetensors"], model=o["model"], model_config=o["model_config"])
    )
    m2.load("cpu")
    np.testing.assert_allclose(_scores(m2), got, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_hpsv2_refuses_pickles_and_wrong_weights(tiny_open_clip, tmp_path):
    o = tiny_open_clip
    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"state_dict": {"x": object()}}))
    with pytest.raises(ValueError, match="not a weights-only checkpoint"):
        load_state_dict(bad)
    torch.save({"state_dict": {"visual.proj": torch.zeros(2, 2)}}, tmp_path / "small.pt")
    m = HPSv2Metric(HPSv2Options(checkpoint=str(tmp_path / "small.pt"), model=o["model"]))
    with pytest.raises(ValueError, match="weights do not fit open_clip"):
        m.load("cpu")
    with pytest.raises(ValueError, match="unknown open_clip architecture 'ViT-H-15'"):
        HPSv2Metric(HPSv2Options(checkpoint=o["hps_pt"], model="ViT-H-15")).load("cpu")


def test_missing_checkpoint_is_named(tmp_path, tiny_hf_clip):
    path = tmp_path / "HPS_v2.1.safetensors"
    with pytest.raises(ValueError, match=f"^checkpoint: file not found: {path}$"):
        HPSv2Options(checkpoint=str(path))
    with pytest.raises(ValueError, match="model: folder not found"):
        PickScoreOptions(model=str(tmp_path / "PickScore_v1"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingCheckpointError, match=f"missing file {empty / 'config.json'}"):
        PickScoreMetric(PickScoreOptions(model=str(empty))).check()
    with pytest.raises(
        MissingCheckpointError, match="processor: missing file .*preprocessor_config"
    ):
        ClipScoreMetric(ClipScoreOptions(model=str(tiny_hf_clip), processor=str(empty))).check()


def test_pickscore_matches_its_model_card_formula(tiny_hf_clip):
    from transformers import AutoProcessor, CLIPModel

    m = PickScoreMetric(PickScoreOptions(model=str(tiny_hf_clip)))
    m.load("cpu")
    got = _scores(m)
    model, proc = (
        CLIPModel.from_pretrained(tiny_hf_clip),
        AutoProcessor.from_pretrained(tiny_hf_clip),
    )
    with torch.no_grad():
        im = model.get_image_features(**proc(images=IMAGES, return_tensors="pt")).pooler_output
        tok = proc(text=TEXTS, padding=True, truncation=True, max_length=32, return_tensors="pt")
        tx = model.get_text_features(**tok).pooler_output
    im, tx = im / im.norm(dim=-1, keepdim=True), tx / tx.norm(dim=-1, keepdim=True)
    expected = (model.logit_scale.exp() * (im * tx).sum(-1)).detach()
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_scores(m, batch=1), got, rtol=1e-4, atol=1e-4)


def test_clipscore_agrees_with_torchmetrics_clipscore(tiny_hf_clip):
    from hbench.tasks.metrics.models import chw_uint8

    m = ClipScoreMetric(ClipScoreOptions(model=str(tiny_hf_clip)))
    m.load("cpu")
    got = _scores(m, batch=2)
    # the CLIPScore object itself, driven with the same images as tensors and the prompts
    tm = m.metric
    tm.reset()
    tm.update([chw_uint8(i) for i in IMAGES], TEXTS)
    assert float(tm.compute()) == pytest.approx(max(float(got.mean()), 0.0), abs=1e-3)
    assert np.all(np.abs(got) <= 100)


def test_aesthetic_head_layouts(tiny_open_clip, aesthetic_head):
    o = tiny_open_clip
    opts = AestheticOptions(head=str(aesthetic_head), clip_checkpoint=o["safetensors"],
                            clip_model=o["model"], model_config=o["model_config"], quick_gelu=False)  # fmt: skip
    m = AestheticMetric(opts)
    feats = None
    m.load("cpu")
    feats = m.image_features(IMAGES)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, rtol=1e-5)  # normalised
    got = m.score(feats, None)
    head = build_head(load_state_dict(aesthetic_head))
    with torch.no_grad():
        expected = head(torch.from_numpy(feats)).reshape(-1).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert [type(x).__name__ for x in head.layers] == ["Linear", "Identity"] * 3 + ["Linear"] * 2
    lin = build_head({"weight": torch.ones(1, 16), "bias": torch.zeros(1)})  # v1: one Linear
    assert float(lin(torch.ones(1, 16)).detach()) == 16.0
    with pytest.raises(ValueError, match="expected keys layers.N"):
        build_head({"fc.weight": torch.ones(1, 16)})


def test_feature_identity_ignores_score_options(tiny_open_clip):
    o = tiny_open_clip
    kw = dict(checkpoint=o["hps_pt"], model=o["model"], model_config=o["model_config"])
    a = HPSv2Metric(HPSv2Options(**kw)).identity()
    b = HPSv2Metric(
        HPSv2Options(**kw, scale=1.0, batch_size=3, text_keys=("instruction",))
    ).identity()
    c = HPSv2Metric(HPSv2Options(**kw, quick_gelu=True)).identity()
    assert a == b and a != c and a["files"]["checkpoint"][0][1] > 0

"""Detector and colour-classifier plugins, built from tiny configs and loaded from local folders."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hbench.harness import plugins
from hbench.tasks.geneval.colors import ClipColorClassifier, ClipColorOptions, color_crop
from hbench.tasks.geneval.detectors import MMDetDetector, MMDetOptions, load_plugin
from hbench.tasks.geneval.hf_detection import HFDetector, HFDetectorOptions, mask_to_box
from hbench.tasks.geneval.metadata import GENEVAL_COLORS
from hbench.tasks.geneval.rules import Detection, score_image, select_objects

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("HBENCH_GENEVAL_DATA", REPO.parent / "shared" / "data" / "geneval"))
# COCO's own label names, as detection checkpoints carry them (GenEval renames three).
COCO_LABELS = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
]  # fmt: skip
ID2LABEL = dict(enumerate(COCO_LABELS))
LABEL2ID = {v: k for k, v in ID2LABEL.items()}
IMAGE = Image.fromarray((np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8))


@pytest.fixture(scope="module")
def object_names(tmp_path_factory) -> Path:
    path = DATA / "object_names.txt"
    if path.is_file():
        return path
    # the official list is COCO's with three names changed
    renamed = {"mouse": "computer mouse", "remote": "tv remote", "keyboard": "computer keyboard"}
    out = tmp_path_factory.mktemp("names") / "object_names.txt"
    out.write_text("\n".join(renamed.get(n, n) for n in COCO_LABELS) + "\n")
    return out


def _favour(linear: torch.nn.Linear, index: int) -> None:
    """Make a classification head predict class ``index`` for every query."""
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.fill_(-10.0)
        linear.bias[index] = 10.0


@pytest.fixture(scope="module")
def mask2former_dir(tmp_path_factory) -> Path:
    from transformers import (
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
        SwinConfig,
    )

    path = tmp_path_factory.mktemp("m2f")
    backbone = SwinConfig(image_size=32, patch_size=4, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                          window_size=2, out_features=["stage1", "stage2", "stage3", "stage4"])  # fmt: skip
    cfg = Mask2FormerConfig(backbone_config=backbone, feature_size=32, mask_feature_size=32, hidden_dim=32,
                            encoder_feedforward_dim=32, dim_feedforward=32, encoder_layers=1, decoder_layers=2,
                            num_attention_heads=2, num_queries=6, id2label=ID2LABEL, label2id=LABEL2ID)  # fmt: skip
    torch.manual_seed(0)
    model = Mask2FormerForUniversalSegmentation(cfg)
    _favour(model.class_predictor, LABEL2ID["mouse"])
    model.save_pretrained(path)
    Mask2FormerImageProcessor(size={"shortest_edge": 32, "longest_edge": 64}).save_pretrained(path)
    return path


def test_mask2former_instances_with_masks_and_geneval_names(mask2former_dir, object_names):
    det = load_plugin(
        plugins.DETECTORS,
        "hf-detection",
        {"path": str(mask2former_dir), "object_names": str(object_names)},
        "detector",
    )
    det.load()
    assert det.kind == "instance-segmentation"
    out = det(IMAGE)
    assert "mouse" not in out and len(out) == 80  # every GenEval class, COCO "mouse" renamed
    mice = out["computer mouse"]
    assert mice and sum(len(v) for v in out.values()) <= 100
    for d in mice:
        assert d.mask.shape == (40, 48) and d.mask.dtype == bool
        assert d.box == mask_to_box(d.mask) and 0.0 <= d.score <= 1.0
    # class probability ~1, so a non-empty mask scores its mean mask probability (> 0.5)
    assert max(d.score for d in mice) > 0.5
    # Scores are float32 values, as mmdet's, and are thresholded as the official evaluator does:
    # ``bbox[:, 4] > 0.3`` on a float32 array (the threshold cast to float32).
    for cls, dets in out.items():
        scores = np.asarray([d.score for d in dets], dtype=np.float32)
        assert scores.astype(float).tolist() == [d.score for d in dets]
        kept = select_objects({cls: dets}, "single_object").get(cls, [])
        assert sorted(d.score for d in kept) == sorted(scores[scores > 0.3].astype(float).tolist())
    meta = {
        "tag": "single_object",
        "include": [{"class": "computer mouse", "count": 1}],
        "prompt": "p",
    }
    assert score_image(meta, out).correct


def test_detr_boxes(tmp_path, object_names):
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    backbone = ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], out_features=["stage2"]
    )
    cfg = DetrConfig(use_timm_backbone=False, backbone_config=backbone, use_pretrained_backbone=False, d_model=16,
                     encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                     encoder_ffn_dim=16, decoder_ffn_dim=16, num_queries=5, id2label=ID2LABEL, label2id=LABEL2ID)  # fmt: skip
    torch.manual_seed(0)
    model = DetrForObjectDetection(cfg)
    _favour(model.class_labels_classifier, LABEL2ID["remote"])
    model.save_pretrained(tmp_path)
    DetrImageProcessor(size={"shortest_edge": 32, "longest_edge": 64}).save_pretrained(tmp_path)
    det = HFDetector(HFDetectorOptions(path=str(tmp_path), object_names=str(object_names)))
    out = det(IMAGE)
    assert det.kind == "object-detection"
    remotes = out["tv remote"]
    assert len(remotes) == 5 and all(d.score > 0.99 and d.mask is None for d in remotes)
    assert all(0 <= d.box[0] <= d.box[2] <= 48 and 0 <= d.box[1] <= d.box[3] <= 40 for d in remotes)
    # a label map can rename further; labels outside object_names are dropped
    det2 = HFDetector(HFDetectorOptions(path=str(tmp_path), label_map={"remote": "clicker"}))
    det2.model = det.model
    assert det2.geneval_name("remote") == "clicker" and det.geneval_name("N/A") is None


def test_owlv2_open_vocabulary(tmp_path, object_names):
    from transformers import (
        CLIPTokenizer,
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
    )

    from hbench.baselines.diffusers.tiny import write_tokenizer_files

    vocab, merges = write_tokenizer_files(tmp_path / "tok")
    tok = CLIPTokenizer(str(vocab), str(merges), model_max_length=16, pad_token="!")
    ids = {
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
    cfg = Owlv2Config(
        text_config=dict(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, **ids),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )  # fmt: skip
    torch.manual_seed(0)
    Owlv2ForObjectDetection(cfg).save_pretrained(tmp_path / "owl")
    Owlv2Processor(
        image_processor=Owlv2ImageProcessor(size={"height": 32, "width": 32}), tokenizer=tok
    ).save_pretrained(tmp_path / "owl")
    with pytest.raises(ValueError, match="object_names"):
        HFDetector(HFDetectorOptions(path=str(tmp_path / "owl")))(
            IMAGE
        )  # auto-detected as open vocabulary
    det = HFDetector(
        HFDetectorOptions(
            path=str(tmp_path / "owl"), object_names=str(object_names), max_per_image=7
        )
    )
    out = det(IMAGE)
    assert det.kind == "open-vocabulary" and len(out) == 80
    found = [d for ds in out.values() for d in ds]
    assert len(found) == 7  # 16 patches x 80 queries, the 7 best kept
    assert all(0 <= d.box[0] <= d.box[2] <= 48 and 0 <= d.box[1] <= d.box[3] <= 40 for d in found)


def test_hf_detection_option_errors(tmp_path):
    with pytest.raises(ValueError, match="needs the option 'path'"):
        HFDetector(HFDetectorOptions())
    with pytest.raises(ValueError, match="unknown option"):
        load_plugin(plugins.DETECTORS, "hf-detection", {"path": "x", "treshold": 0.1}, "detector")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        HFDetector(HFDetectorOptions(path=str(tmp_path / "nope"))).load()


def test_mmdet_is_optional_with_a_clear_message(tmp_path):
    with pytest.raises(ValueError, match="needs the option 'config'"):
        MMDetDetector(MMDetOptions())
    det = MMDetDetector(MMDetOptions(config="c.py", checkpoint="m.pth", object_names="names.txt"))
    if importlib.util.find_spec("mmdet") is not None:
        pytest.skip("mmdet is installed here; its model files are not")
    with pytest.raises(ImportError, match="mmdet .* not installed"):
        det.load()


# ------------------------------------------------------------------------------ colour


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import open_clip
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("clip")
    config = folder / "hbench-tiny-clip.json"
    config.write_text(json.dumps({
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
    }))  # fmt: skip
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("hbench-tiny-clip", pretrained=None, force_quick_gelu=True)
    save_file(model.state_dict(), folder / "tiny.safetensors")
    return ClipColorOptions(
        model="hbench-tiny-clip",
        checkpoint=str(folder / "tiny.safetensors"),
        model_config=str(config),
    )


def test_clip_colour_classifier(tiny_clip):
    import open_clip
    import torch.nn.functional as F

    clf = load_plugin(plugins.COLOR_CLASSIFIERS, "clip", tiny_clip.__dict__, "colour classifier")
    clf.load()
    assert any(isinstance(m, open_clip.transformer.QuickGELU) for m in clf.model.modules())
    mask = np.zeros((40, 48), dtype=bool)
    mask[5:20, 5:30] = True
    objects = [
        Detection((5, 5, 30, 20), 0.9, mask),
        Detection((0, 0, 48, 40), 0.8),
        Detection((10, 10, 20, 20), 0.7),
    ]
    colors = clf(IMAGE, objects, "car")
    assert len(colors) == 3 and set(colors) <= set(GENEVAL_COLORS)
    # zero-shot weights: per colour, the mean of the normalised template embeddings, renormalised
    w = clf.classifier("car")
    assert w.shape == (16, 10)
    with torch.no_grad():
        texts = [
            "a photo of a pink car",
            "a photo of a pink-colored car",
            "a photo of a pink object",
        ]
        emb = F.normalize(clf.model.encode_text(clf.tokenizer(texts)), dim=-1).mean(0)
    assert torch.allclose(w[:, GENEVAL_COLORS.index("pink")], emb / emb.norm(), atol=1e-6)
    with pytest.raises(ValueError, match="must be .safetensors"):
        ClipColorClassifier(ClipColorOptions(checkpoint="vit.pt"))


def test_color_crop_composites_over_grey_then_crops():
    img = Image.new("RGB", (10, 10), (200, 0, 0))
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:6, 3:7] = True
    d = Detection((2.0, 1.0, 8.0, 7.0), 0.9, mask)
    full = np.asarray(color_crop(img, d, crop=False))
    assert (full[mask] == (200, 0, 0)).all() and (full[~mask] == (153, 153, 153)).all()
    crop = color_crop(img, d)
    assert crop.size == (6, 6)
    assert (
        np.asarray(color_crop(img, d, bgcolor="original", crop=False)).tolist()
        == np.asarray(img).tolist()
    )
    assert np.asarray(color_crop(img, Detection((0, 0, 4, 4), 0.9))).shape == (
        4,
        4,
        3,
    )  # no mask: plain crop


def test_shapes_plugins_are_registered():
    assert {"shapes", "hf-detection", "mmdet"} <= set(plugins.DETECTORS.names())
    assert {"shapes", "clip"} <= set(plugins.COLOR_CLASSIFIERS.names())
    assert plugins.SUITES.get("geneval").name == "geneval"

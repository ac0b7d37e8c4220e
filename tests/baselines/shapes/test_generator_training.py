"""Training and distillation scripts: seeded, resumable, exporting verified safetensors."""

from __future__ import annotations

import json

import torch

from hbench.baselines.shapes.generator import build_image_engine, distill, train
from hbench.baselines.shapes.generator.weights import MANIFEST

TINY = ["--channels", "8,16,32", "--text-dim", "32", "--batch", "4"]


def _sha(weights_dir, name):
    return json.loads((weights_dir / MANIFEST).read_text())["files"][name]["sha256"]


def test_teacher_resume_reproduces_uninterrupted_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        train.main(["--out", str(a / "run"), "--steps", "3", "--weights-dir", str(a), *TINY]) == 0
    )
    # Stop after 2 steps (--end), then rerun the plain command: it resumes at step 2.
    common = ["--out", str(b / "run"), "--weights-dir", str(b), *TINY]
    train.main([*common, "--steps", "3", "--decay-at", "3", "--end", "2", "--ckpt-every", "1"])
    train.main([*common, "--steps", "3"])
    assert _sha(a, "generator_teacher.safetensors") == _sha(b, "generator_teacher.safetensors")
    lr = [train.lr_at(s, 3000, 1e-3) for s in range(0, 3000, 7)]
    short = [train.lr_at(s, 3000, 1e-3, decay_at=1800, end=2200) for s in range(0, 1800, 7)]
    assert short == lr[: len(short)]
    assert abs(train.lr_at(2199, 3000, 1e-3, decay_at=1800, end=2200) - 5e-5) < 2e-6


def test_distillation_stages_export_loadable_students(tmp_path):
    w = tmp_path / "w"
    train.main(["--out", str(tmp_path / "t"), "--steps", "1", "--weights-dir", str(w), *TINY])
    common = ["--batch", "4", "--steps", "2", "--substeps", "1", "--weights-dir", str(w)]
    assert distill.main(["--stage", "nfe6", "--out", str(tmp_path / "s6"), *common]) == 0
    assert distill.main(["--stage", "nfe1", "--out", str(tmp_path / "s1"), *common]) == 0
    manifest = json.loads((w / MANIFEST).read_text())["files"]
    assert (
        manifest["generator_nfe1.safetensors"]["distilled_from"]["file"]
        == "generator_nfe6.safetensors"
    )
    for kind in ("nfe6", "nfe1"):
        eng = build_image_engine(kind, w)
        eng.load("cpu", torch.float32)
        assert eng.generate("a photo of a red circle", 0).shape == (32, 32, 3)

"""Training and distillation scripts: seeded, resumable, exporting verified safetensors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from hbench.baselines.shapes.generator import build_image_engine
from hbench.baselines.shapes.generator.weights import MANIFEST
from hbench.baselines.shapes.training.generator import distill, train

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


def test_nfe1_from_teacher_pairs_with_palette_term(tmp_path):
    w = tmp_path / "w"
    train.main(["--out", str(tmp_path / "t"), "--steps", "1", "--weights-dir", str(w), *TINY])
    common = ["--batch", "4", "--steps", "2", "--substeps", "1", "--weights-dir", str(w)]
    distill.main(["--stage", "nfe6", "--out", str(tmp_path / "s6"), *common])
    pool = ["--targets", "teacher", "--pair-chunk", "4", "--palette-weight", "0.1"]
    out = tmp_path / "s1"
    assert distill.main(["--stage", "nfe1", "--out", str(out), *common, *pool, "--pairs", "4"]) == 0
    first = load_file(str(out / "pairs.safetensors"))
    (out / "state.safetensors").unlink()  # retrain on a larger pool: the drawn chunk is reused
    assert distill.main(["--stage", "nfe1", "--out", str(out), *common, *pool, "--pairs", "8"]) == 0
    second = load_file(str(out / "pairs.safetensors"))
    assert second["x0"].shape[0] == 8 and torch.equal(second["x0"][:4], first["x0"])
    entry = json.loads((w / MANIFEST).read_text())["files"]["generator_nfe1.safetensors"]
    assert entry["distilled_from"]["file"] == "generator_teacher.safetensors"


def test_palette_loss_prefers_pure_colours():
    from hbench.baselines.shapes.training.generator.palette_loss import (
        REFERENCE_COLORS,
        palette_loss,
    )

    target = REFERENCE_COLORS[torch.arange(16) % len(REFERENCE_COLORS)].T.reshape(1, 3, 4, 4)
    blend = 0.5 * target + 0.5 * target.roll(1, dims=-1)
    assert palette_loss(target, target) < 1e-3 < palette_loss(blend, target)
    x = blend.clone().requires_grad_(True)
    palette_loss(x, target).backward()
    stepped = blend - 0.01 * x.grad / x.grad.abs().max()
    assert palette_loss(stepped, target) < palette_loss(blend, target)


def test_nfe1_only_options_are_refused_for_nfe6(tmp_path, capsys):
    with pytest.raises(SystemExit):
        distill.parse(["--stage", "nfe6", "--out", str(tmp_path), "--palette-weight", "0.1"])
    assert "--stage nfe1 only" in capsys.readouterr().err


def test_tag_weights_override_the_t2i_mix_and_name_bad_items(capsys):
    import numpy as np

    from hbench.baselines.shapes.training.generator.data import (
        TAG_WEIGHTS,
        make_batch,
        parse_tag_weights,
    )

    w = parse_tag_weights("counting=0.3, colors=0")
    assert abs(sum(w.values()) - 1) < 1e-12 and w["colors"] == 0
    others = sum(v for k, v in TAG_WEIGHTS.items() if k not in ("counting", "colors"))
    assert abs(w["counting"] - 0.3 / (0.3 + others)) < 1e-12
    # only counting prompts when every other tag is off
    only = parse_tag_weights(",".join(f"{t}=0" for t in TAG_WEIGHTS if t != "counting"))
    batch = make_batch(np.random.default_rng(0), 16, edit_share=0.0, tag_weights=only)
    assert all(t.startswith(("a photo of two", "a photo of three", "a photo of four"))
               for t in batch.texts), batch.texts  # fmt: skip
    # no override: the default mix, draw for draw
    a = make_batch(np.random.default_rng(1), 12)
    b = make_batch(np.random.default_rng(1), 12, tag_weights=dict(TAG_WEIGHTS))
    assert a.texts == b.texts
    for bad, msg in (("count=0.2", "'count=0.2'"), ("colors=x", "'x' is not a number"),
                     ("colors=-1", "must be >= 0")):  # fmt: skip
        with pytest.raises(ValueError, match=msg):
            parse_tag_weights(bad)
    with pytest.raises(SystemExit):
        train.parse(["--out", "x", "--tag-weights", "count=0.2"])
    assert "--tag-weights" in capsys.readouterr().err


def test_training_time_shift_moves_draws_towards_noise_and_keeps_the_rng(capsys):
    plain = train.sample_t(4096, torch.Generator().manual_seed(0))
    shifted = train.sample_t(4096, torch.Generator().manual_seed(0), shift=3.0)
    # Same underlying draws, mapped by the sampler's shift s*t / (1 + (s-1)*t).
    assert torch.allclose(shifted, 3 * plain / (1 + 2 * plain))
    assert torch.equal(train.sample_t(64, torch.Generator().manual_seed(5), shift=1.0),
                       train.sample_t(64, torch.Generator().manual_seed(5)))  # fmt: skip
    assert 0 < shifted.min() and shifted.max() < 1
    assert plain.median() < 0.55 < 0.7 < shifted.median()
    with pytest.raises(SystemExit):
        train.parse(["--out", "x", "--t-shift", "0"])
    assert "--t-shift must be > 0" in capsys.readouterr().err

"""Shapes image engines over a tiny random generator: I/O contract, NFE, weights safety."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hbench.baselines.shapes.generator import ENGINE_KINDS, build_image_engine
from hbench.baselines.shapes.generator.engines import SPECS
from hbench.baselines.shapes.generator.network import GeneratorConfig, ShapesDenoiser
from hbench.baselines.shapes.generator.tokens import WordTokenizer
from hbench.baselines.shapes.generator.weights import MANIFEST, WeightsError, save_weights
from hbench.worlds.shapes import render, sample_scene

TINY = GeneratorConfig(vocab_size=WordTokenizer().size, channels=(8, 16, 32), text_dim=32, heads=2)
NAMES = ("generator_teacher", "generator_nfe6", "generator_nfe1")


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    for name in NAMES:
        save_weights(
            ShapesDenoiser(TINY).state_dict(), name, {"config": TINY.to_dict(), "role": name}, d
        )
    return d


def _loaded(kind, weights_dir):
    eng = build_image_engine(kind, weights_dir)
    eng.load("cpu", torch.float32)
    return eng


def _count_rows(engine, fn):
    rows = []
    h = engine.modules()["generator"].register_forward_hook(
        lambda m, a, o: rows.append(a[0].shape[0])
    )
    try:
        fn()
    finally:
        h.remove()
    return rows


@pytest.mark.parametrize(
    "kind,t2i,edit,rows_per_call",
    [
        ("teacher", 98, 147, 1),  # BAGEL's loop: one forward per CFG branch
        ("teacher-batched", 98, 147, 2),  # the branches of a step in one call
        ("euler6", 12, 18, 2),
        ("nfe6", 6, 6, 1),
        ("nfe1", 1, 1, 1),
    ],
)
def test_outputs_and_nfe(weights_dir, kind, t2i, edit, rows_per_call):
    eng = _loaded(kind, weights_dir)
    src = render(sample_scene(np.random.default_rng(0), 2))
    rows = _count_rows(eng, lambda: eng.generate("a photo of a red circle", 3))
    assert sum(rows) == t2i
    rows_e = _count_rows(eng, lambda: eng.edit(src, "remove the red circle .", 3))
    assert sum(rows_e) == edit
    assert max(rows) == min(rows) == rows_per_call
    # Text encodings per image: the prompt, plus the empty text only where CFG needs it.
    encoded = []
    h = eng.modules()["generator"].text.register_forward_hook(lambda *a: encoded.append(1))
    img = eng.generate("a photo of two squares", 5)
    h.remove()
    assert len(encoded) == (1 if kind.startswith("nfe") else 2)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert eng.describe()["engine"] == kind
    assert eng.describe()["weights_sha256"]


def test_same_seed_same_image_and_batch_consistency(weights_dir):
    eng = _loaded("nfe6", weights_dir)
    a = eng.generate("a photo of a blue triangle", 11)
    b = eng.generate("a photo of a blue triangle", 11)
    assert np.array_equal(a, b)
    batch = eng.generate_batch(["a photo of a blue triangle", "a photo of a square"], [11, 12])
    assert np.abs(batch[0].astype(int) - a.astype(int)).max() <= 1


def test_bad_inputs_are_named(weights_dir):
    eng = _loaded("nfe1", weights_dir)
    with pytest.raises(ValueError, match="'dog'"):
        eng.generate("a photo of a dog", 0)
    with pytest.raises(ValueError, match="uint8"):
        eng.edit(np.zeros((32, 32, 3), dtype=np.float32), "remove the red circle .", 0)
    with pytest.raises(ValueError, match="unknown image engine"):
        build_image_engine("nfe2")
    with pytest.raises(RuntimeError, match="not loaded"):
        build_image_engine("nfe1", weights_dir).generate("a photo of a square", 0)
    assert set(ENGINE_KINDS) == set(SPECS)  # every registered kind is advertised


def test_checksum_mismatch_and_pickle_are_refused(tmp_path):
    save_weights(
        ShapesDenoiser(TINY).state_dict(), "generator_nfe1", {"config": TINY.to_dict()}, tmp_path
    )
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["files"]["generator_nfe1.safetensors"]["sha256"] = "0" * 64
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="generator_nfe1.safetensors.*does not match"):
        build_image_engine("nfe1", tmp_path).load("cpu", torch.float32)
    torch.save(
        {"x": torch.zeros(1)}, tmp_path / "generator_nfe6.safetensors"
    )  # a pickle in disguise
    with pytest.raises(WeightsError, match="pickle"):
        build_image_engine("nfe6", tmp_path).load("cpu", torch.float32)
    with pytest.raises(WeightsError, match="not found"):
        build_image_engine("teacher", tmp_path).load("cpu", torch.float32)
    # checksum in order, tensors of another architecture than the manifest's config
    wide = GeneratorConfig(**{**TINY.to_dict(), "text_dim": 2 * TINY.text_dim})
    save_weights(ShapesDenoiser(wide).state_dict(), "generator_teacher", {"config": TINY.to_dict()},
                 tmp_path)  # fmt: skip
    with pytest.raises(WeightsError, match="generator_teacher.safetensors: does not match its"):
        build_image_engine("teacher", tmp_path).load("cpu", torch.float32)


def test_shipped_weights_verify_and_fit_the_budget():
    from hbench.baselines.shapes.generator.weights import WEIGHTS_DIR, read_manifest

    files = read_manifest(WEIGHTS_DIR)["files"]
    assert set(files) == {f"{n}.safetensors" for n in NAMES}
    assert sum((WEIGHTS_DIR / f).stat().st_size for f in files) < 25e6
    assert all(
        e["dtype"] == "float16" and e["command"].startswith("python -m") for e in files.values()
    )
    for kind in ("teacher", "nfe6", "nfe1"):
        eng = build_image_engine(kind)
        eng.load("cpu", torch.float32)  # verifies sha256 against the manifest
        assert eng.describe()["weights_sha256"] == files[eng.describe()["weights"]]["sha256"]


def test_speed_bench_reports_each_variant_against_each_reference(weights_dir, capsys):
    from hbench.baselines.shapes.training.generator import bench

    argv = ["--kinds", "nfe6,teacher-batched", "--references", "teacher,teacher-batched"]
    assert bench.main([*argv, "--n", "1", "--weights-dir", str(weights_dir)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    pairs = {(r["task"], r["reference"], r["kind"]) for r in lines}
    assert pairs == {
        (task, ref, kind)
        for task in ("t2i", "edit")
        for ref, kind in (("teacher", "nfe6"), ("teacher", "teacher-batched"),
                          ("teacher-batched", "nfe6"))
    }  # fmt: skip
    assert all(r["speedup_median"] > 0 and r["n"] == 1 for r in lines)

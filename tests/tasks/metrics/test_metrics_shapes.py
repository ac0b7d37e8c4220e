"""Shapes-world quality metrics: exact values, and the post-pass through the runner
(per-sample values, paired deltas with intervals, feature cache, reuse on re-scoring)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from metrics_helpers import blur
from PIL import Image

from hbench.harness import plugins
from hbench.harness.config import load_config
from hbench.harness.metric_values import METRIC_VALUES, latest_values
from hbench.harness.metrics_pass import run_metrics
from hbench.harness.runner import execute
from hbench.harness.scoring import score_run
from hbench.tasks.metrics.cli import main as cli_main
from hbench.tasks.metrics.shapes_quality import edge_sharpness, palette_cleanliness
from hbench.tasks.metrics.summary import metric_rows, metrics_table
from hbench.worlds.shapes import render, sample_scene

SCENES = [render(sample_scene(np.random.default_rng(s), 3)) for s in range(5)]


def test_rendered_scenes_score_one():
    for img in SCENES:
        assert palette_cleanliness(img) == 1.0
        assert edge_sharpness(img) == 1.0
    flat = np.full((32, 32, 3), 210, dtype=np.uint8)
    assert edge_sharpness(flat) == 1.0  # no gradient: nothing to blur


def test_blur_lowers_edges_and_noise_lowers_palette():
    rng = np.random.default_rng(0)
    for img in SCENES:
        blurred = np.asarray(blur(Image.fromarray(img)))
        assert edge_sharpness(blurred) < 0.6
        noisy = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
        assert palette_cleanliness(noisy) < 0.8
        assert palette_cleanliness(blurred) < 1.0


def test_palette_cleanliness_known_value():
    img = np.full((32, 32, 3), 210, dtype=np.uint8)  # grey background, exact
    img[:16] = (210, 210, 250)  # distance 40 from grey (the nearest colour) on half the pixels
    assert palette_cleanliness(img, 80.0) == pytest.approx(0.75)


CONFIG = """\
system: {family: metrics-test, variants: [clean, blurred]}
suites:
  geneval: {prompts: shapes, prompts_per_tag: 1, samples_per_prompt: 2}
  gedit: {source: shapes, samples_per_type: 1}
metrics:
  shapes-palette: {}
  shapes-edges: {suites: [geneval], batch_size: 5}
"""


def test_shapes_metrics_through_the_runner(tmp_path, degraded_family, capsys):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(CONFIG)
    config = load_config(cfg_path, plugins.SYSTEMS, plugins.SUITES)
    run = tmp_path / "run"
    scores = execute(config, run, progress=False)
    gen = scores["suites"]["geneval"]
    for variant in ("clean", "blurred"):
        sm = gen["variants"][variant]["sample_metrics"]
        assert set(sm) == {"shapes-palette", "shapes-edges"} and sm["shapes-edges"]["n"] == 12
    assert gen["variants"]["clean"]["sample_metrics"]["shapes-edges"]["estimate"] == 1.0
    engine = {e["id"]: e for e in gen["comparisons"]["blurred"]["estimates"]}
    delta = engine["diff:shapes-edges|all"]  # the comparison engine's entry
    assert delta["n"] == 12 and delta["ci_high"] < 0 and delta["ci_low"] <= delta["estimate"]
    # the edges metric was restricted to geneval; the palette metric scores gedit too
    ged = {e["id"]: e for e in scores["suites"]["gedit"]["comparisons"]["blurred"]["estimates"]}
    assert "diff:shapes-edges|all" not in ged
    assert ged["diff:shapes-palette|all"]["estimate"] < 0
    info = scores["metrics_pass"]
    assert info["shapes-edges"]["scored"] == 24 and info["shapes-palette"]["scored"] == 24 + 12
    # features cached per image: one .npy per distinct image under cache/<metric>/<fp>/
    cached = list((run / "cache" / "shapes-edges").rglob("*.npy"))
    assert len(cached) == len({ln["sha1"] for ln in _lines(run, "shapes-edges")}) > 0

    # Re-scoring: nothing recomputed, nothing appended, the same scores.
    before = (run / METRIC_VALUES).read_text()
    info2 = run_metrics(run, config)
    assert info2["metrics"]["shapes-edges"]["reused"] == 24
    assert info2["metrics"]["shapes-edges"]["scored"] == 0
    assert (run / METRIC_VALUES).read_text() == before
    suites = {s.name: plugins.SUITES.get(s.kind)(s.params) for s in config.suites}
    rescored, saved = score_run(run, suites, config), json.loads((run / "scores.json").read_text())
    assert rescored["suites"]["geneval"] == saved["suites"]["geneval"]
    # (gedit's summary also lists the suite's own models it did not load: compare the rest)
    assert rescored["suites"]["gedit"]["comparisons"] == saved["suites"]["gedit"]["comparisons"]

    # the text table and the CLI over the finished run
    table = metrics_table(run)
    assert "shapes-edges    ↑  blurred" in table and "(reference)" in table
    row = next(
        r
        for r in metric_rows(rescored)
        if r[:2] == ("geneval", "shapes-edges") and r[3] == "blurred"
    )
    assert row[6].startswith("-") and "[" in row[6]
    assert cli_main([str(run), "--config", str(cfg_path)]) == 0
    assert "shapes-palette" in capsys.readouterr().out
    assert cli_main([str(tmp_path)]) == 2


def test_changed_image_is_rescored_and_cache_is_reused(tmp_path, degraded_family):
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(CONFIG.replace("  shapes-palette: {}\n", ""))
    config = load_config(cfg_path, plugins.SYSTEMS, plugins.SUITES)
    run = tmp_path / "run"
    execute(config, run, progress=False)
    line = next(ln for ln in _lines(run, "shapes-edges") if "/blurred" in ln["key"])
    # Swap one blurred image for its clean twin: its value must be recomputed (1.0).
    clean = (run / line["image"]).as_posix().replace("/blurred/", "/clean/")
    (run / line["image"]).write_bytes(open(clean, "rb").read())
    info = run_metrics(run, config)["metrics"]["shapes-edges"]
    assert info["scored"] == 1 and info["reused"] == 23 and info["cached"] == 1
    assert latest_values(run)[line["key"]]["shapes-edges"] == 1.0


def _lines(run, metric):
    lines = [json.loads(x) for x in (run / METRIC_VALUES).read_text().splitlines()]
    return [ln for ln in lines if ln["metric"] == metric]

"""The understanding suite end to end on the shapes oracle: shapes tasks, MME files with bad rows."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hbench.harness import plugins
from hbench.harness.config import load_config
from hbench.harness.runner import execute
from hbench.harness.store import read_records
from hbench.tasks.understanding.suite import (
    DEFAULT_MAX_NEW_TOKENS,
    UnderstandingConfig,
    UnderstandingSuite,
)
from hbench.worlds.shapes import render, sample_scene

CONFIG = """\
system:
  family: shapes
  variants: [oracle]
  reference: oracle
suites:
{suites}
"""


def _run(tmp_path, suites: str):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format(suites=suites))
    run = tmp_path / "run"
    scores = execute(load_config(path, plugins.SYSTEMS, plugins.SUITES), run, progress=False)
    return scores, read_records(run)


def test_shapes_caption_and_vqa_on_the_oracle(tmp_path):
    scores, records = _run(
        tmp_path,
        "  cap: {suite: understanding, benchmark: shapes-caption, samples: 6}\n"
        "  vqa: {suite: understanding, benchmark: shapes-vqa, samples: 8}",
    )
    for name in ("cap", "vqa"):
        block = scores["suites"][name]["variants"]["oracle"]
        assert block["n"] == 6 if name == "cap" else 8
        assert block["errors"] == 0
        assert block["scores"]["accuracy"] == 1.0  # the oracle reads scenes exactly
    vqa = [r for r in records if r["suite"] == "vqa"]
    assert {r["details"]["category"] for r in vqa} == {"count", "color", "shape", "relation"}


def test_mme_folder_with_bad_input_gives_error_records(tmp_path):
    task = tmp_path / "mme" / "position"
    task.mkdir(parents=True)
    rng = np.random.default_rng(3)
    scene = sample_scene(rng, 2)
    a, b = scene.objects
    Image.fromarray(render(scene)).save(task / "0001.png")
    rel = "left of" if a.center[0] < b.center[0] else "right of"
    wrong = "right of" if rel == "left of" else "left of"
    (task / "0001.txt").write_text(
        f"is the {a.name} {rel} the {b.name} ?\tYes\nis the {a.name} {wrong} the {b.name} ?\tNo\n"
    )
    (task / "0002.png").write_bytes(b"\x89PNG broken")
    (task / "0002.txt").write_text(f"is the {a.name} {rel} the {b.name} ?\tYes\n")
    (task / "0003.txt").write_text("a question with no image\tNo\n")
    (task / "0004.png").write_bytes((task / "0001.png").read_bytes())
    (task / "0004.txt").write_text("missing the answer field\n")
    scores, records = _run(
        tmp_path, f"  mme: {{suite: understanding, benchmark: mme, path: '{tmp_path / 'mme'}'}}"
    )
    errs = {r["sample"]: r["error"]["message"] for r in records if r["error"]}
    assert len(records) == 5 and len(errs) == 3
    msgs = " | ".join(errs.values())
    assert "0002.txt line 1: image does not decode" in msgs
    assert "0003.txt line 1: no image" in msgs
    assert "0004.txt line 1: expected 'question<TAB>answer'" in msgs
    block = scores["suites"]["mme"]["variants"]["oracle"]
    assert block["errors"] == 3 and block["scores"]["accuracy"] == 1.0
    mme = block["scores"]["mme"]
    # acc counts the answered questions; for acc+ the images whose question failed
    # (0002, 0003, 0004) are not "both right": 1 of 4 images (issue #23).
    assert mme["tasks"]["position"] == {
        "acc": 100.0,
        "acc_plus": 25.0,
        "score": 125.0,
        "questions": 2,
    }
    assert mme["perception"] == 125.0


def test_config_defaults_and_validation(tmp_path):
    assert (
        UnderstandingConfig(benchmark="mme", path="x").new_tokens
        == DEFAULT_MAX_NEW_TOKENS["mme"]
        == 20
    )
    assert UnderstandingConfig(benchmark="mmbench", path="x", max_new_tokens=7).new_tokens == 7
    with pytest.raises(ValueError, match="unknown benchmark 'mm-bench'"):
        UnderstandingConfig(benchmark="mm-bench")
    with pytest.raises(ValueError, match="set path"):
        UnderstandingConfig(benchmark="mmmu")
    with pytest.raises(FileNotFoundError):
        UnderstandingSuite(
            UnderstandingConfig(benchmark="mmbench", path=str(tmp_path / "missing.tsv"))
        )


def test_items_are_stable_and_repeats_share_the_scene():
    suite = UnderstandingSuite(
        UnderstandingConfig(benchmark="shapes-caption", samples=2, repeats=3)
    )
    items = suite.items(0)
    assert [i.sample for i in items][:3] == ["00000/r00", "00000/r01", "00000/r02"]
    assert len({i.seed for i in items}) == 6
    s0, img0 = suite._sample(items[0])
    s1, img1 = suite._sample(items[1])
    assert s0.answer == s1.answer and np.array_equal(np.asarray(img0[0]), np.asarray(img1[0]))
    assert [i.seed for i in suite.items(0)] == [i.seed for i in items]

"""The real pipeline on the shapes world: render -> official layout -> detector -> official rules.

The oracle renders exactly what a prompt asks for, so it must score (almost) perfectly;
removing or recolouring one object must change the verdict exactly as the rules say.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from hbench.harness import plugins
from hbench.tasks.geneval.cli import main
from hbench.tasks.geneval.layout import save_sample
from hbench.tasks.geneval.metadata import generate_metadata, write_metadata
from hbench.tasks.geneval.rules import Thresholds
from hbench.tasks.geneval.scoring import score_image_dir
from hbench.tasks.geneval.summary import read_results
from hbench.worlds.shapes.geneval_format import scene_for_metadata
from hbench.worlds.shapes.render import render
from hbench.worlds.shapes.scene import COLORS, Scene, place

RECORDS = generate_metadata("shapes", 6, seed=0)


def _tools():
    return plugins.DETECTORS.get("shapes")(), plugins.COLOR_CLASSIFIERS.get("shapes")()


def _group_of(record: dict) -> list[dict]:
    """The include group of every object, in the order scene_for_metadata places them."""
    return [g for g in record["include"] for _ in range(g["count"])]


def _save(root, index, sample, scene, record):
    save_sample(root, index, sample, Image.fromarray(render(scene)), record)


@pytest.fixture(scope="module")
def oracle_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle")
    rng = np.random.default_rng(0)
    for i, rec in enumerate(RECORDS):
        for s in range(2):
            _save(root, i, s, scene_for_metadata(rec, rng), rec)
    return root


def test_oracle_scores_at_least_0_99_through_the_official_layout(oracle_dir, tmp_path):
    det, clf = _tools()
    res = score_image_dir(oracle_dir, det, clf, Thresholds(), outfile=tmp_path / "results.jsonl")
    assert res.summary["total_images"] == 2 * len(RECORDS)
    assert set(res.summary["tags"]) == {
        "single_object",
        "two_object",
        "counting",
        "colors",
        "position",
        "color_attr",
    }
    assert res.summary["overall"] >= 0.99, [r["reason"] for r in res.rows if not r["correct"]]
    assert res.extras["extra_objects_mean"] == 0.0 and res.extras["mean_agreement"] >= 0.99
    rows = read_results(tmp_path / "results.jsonl")
    assert len(rows) == len(res.rows) and rows[0]["filename"].endswith("00000/samples/0000.png")
    assert json.loads(rows[0]["metadata"]) == RECORDS[0]


def test_removed_recoloured_and_added_objects_score_as_the_rules_say(tmp_path):
    rng = np.random.default_rng(1)
    root, expected, index = tmp_path / "edited", {}, 0
    for rec in RECORDS:
        scene = scene_for_metadata(rec, rng)
        groups = _group_of(rec)
        for k, obj in enumerate(scene.objects):
            # every object in an oracle scene is required: removing any one fails the image
            _save(
                root,
                index,
                0,
                Scene(scene.objects[:k] + scene.objects[k + 1 :], scene.background),
                rec,
            )
            expected[index] = (False, rec["tag"], "removed")
            index += 1
            # recolouring fails exactly when the object's group asks for a colour
            other = next(c for c in COLORS if c != obj.color)
            objs = list(scene.objects)
            objs[k] = replace(obj, color=other)
            _save(root, index, 0, Scene(tuple(objs), scene.background), rec)
            expected[index] = ("color" not in groups[k], rec["tag"], "recoloured")
            index += 1
        if rec["tag"] == "counting":  # one object too many trips the exclude clause
            cls, n = rec["include"][0]["class"], rec["include"][0]["count"]
            extra = place(rng, cls, scene.objects[0].color, list(scene.objects))
            _save(root, index, 0, Scene((*scene.objects, extra), scene.background), rec)
            expected[index] = (False, "counting", f"expected {cls}<{n + 1}, found {n + 1}")
            index += 1
    det, clf = _tools()
    res = score_image_dir(root, det, clf)
    got = {int(r["filename"].split("/")[-3]): r for r in res.rows}
    assert len(got) == len(expected)
    for i, (want, tag, how) in expected.items():
        assert got[i]["correct"] is want, (i, tag, how, got[i]["prompt"], got[i]["reason"])
    added = [(got[i]["reason"], e[2]) for i, e in expected.items() if e[2].startswith("expected")]
    assert added and all(reason == want for reason, want in added)


def test_cli_score_check_and_prompts(oracle_dir, tmp_path, capsys):
    out = tmp_path / "res.jsonl"
    assert main(["score", str(oracle_dir), "--outfile", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Overall score (avg. over tasks): 1.00000" in text and "mean_agreement" in text
    assert main(["summary", str(out)]) == 0
    assert "% correct images: 100.00%" in capsys.readouterr().out

    meta = tmp_path / "m.jsonl"
    assert main(["prompts", "--vocabulary", "shapes", "--per-tag", "2", "-o", str(meta)]) == 0
    assert main(["check", str(meta)]) == 0
    bad = write_metadata(tmp_path / "bad.jsonl", [{"tag": "nope", "include": [], "prompt": "p"}])
    capsys.readouterr()
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:1: unknown tag 'nope'" in err
    assert (
        main(["score", str(oracle_dir), "--detector", "shapes", "--detector-option", "bogus=1"])
        == 2
    )
    assert "unknown option(s) 'bogus'" in capsys.readouterr().err
    assert main(["score", str(oracle_dir), "--detector", "shape"]) == 2
    assert "Did you mean: shapes" in capsys.readouterr().err

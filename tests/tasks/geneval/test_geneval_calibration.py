"""GenEval's detector self-check: calibration before scoring, recorded, refusing when broken."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from hbench.harness import plugins
from hbench.harness.config import load_config
from hbench.harness.protocol import PreflightError
from hbench.harness.runner import RunError, execute
from hbench.harness.store import read_records
from hbench.tasks.geneval.calibration import shapes_cases
from hbench.tasks.geneval.detectors import ShapesDetector
from hbench.tasks.geneval.layout import save_sample
from hbench.tasks.geneval.protocols import HF_LABEL
from hbench.tasks.geneval.suite import GenEvalConfig, GenEvalSuite
from hbench.worlds.shapes import Scene, ShapeObject, render

REPO = Path(__file__).resolve().parents[3]
CONFIG = """\
system: {{family: shapes, variants: [oracle], reference: oracle}}
suites:
  geneval: {{prompts_per_tag: 1, samples_per_prompt: 1, warmup: 0, {extra}}}
"""


@dataclass(frozen=True)
class _NoOptions:
    pass


class BlindToTriangles:
    """A deliberately broken detector: the exact shapes detector with triangles dropped."""

    Options: ClassVar[type] = _NoOptions

    def __init__(self, options=None):
        self.inner = ShapesDetector()

    def load(self, device="cpu"):
        pass

    def __call__(self, image):
        found = self.inner(image)
        return {k: v for k, v in found.items() if k != "triangle"}


class AlwaysRed:
    """A deliberately broken colour classifier."""

    Options: ClassVar[type] = _NoOptions

    def __init__(self, options=None):
        pass

    def load(self, device="cpu"):
        pass

    def __call__(self, image, objects, classname):
        return ["red"] * len(objects)


@pytest.fixture
def broken_plugins(monkeypatch):
    monkeypatch.setitem(plugins.DETECTORS._entries, "test-blind-triangles", BlindToTriangles)
    monkeypatch.setitem(plugins.COLOR_CLASSIFIERS._entries, "test-always-red", AlwaysRed)


def _execute(tmp_path, extra: str):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.format(extra=extra))
    run = tmp_path / "run"
    config = load_config(path, plugins.SYSTEMS, plugins.SUITES)
    return run, lambda: execute(config, run, progress=False)


def _manifest(run):
    return json.loads((run / "manifest.json").read_text())


def test_shapes_detector_passes_and_the_check_is_recorded(tmp_path):
    run, go = _execute(tmp_path, "protocol: official")
    scores = go()
    check = _manifest(run)["preflight"]["geneval"]
    assert check["checked"] and check["passed"] and check["source"] == "the shapes recipe"
    assert check["per_class_recall"] == {"circle": 1.0, "square": 1.0, "triangle": 1.0}
    assert check["color_accuracy"] == 1.0 and check["images"] == len(shapes_cases()) == 18
    card = scores["suites"]["geneval"]["protocol"]
    assert card["protocol"] == "official" and card["comparable"] is False  # generated prompts
    assert _manifest(run)["protocols"]["geneval"] == card


def test_a_detector_blind_to_a_class_is_refused_in_one_line(tmp_path, broken_plugins):
    run, go = _execute(tmp_path, "detector: test-blind-triangles")
    with pytest.raises(RunError) as err:
        go()
    message = str(err.value)
    assert "\n" not in message and "recall of 'triangle' is 0.00 < 0.90" in message
    check = _manifest(run)["preflight"]["geneval"]
    assert check["passed"] is False and check["per_class_recall"]["triangle"] == 0.0
    assert check["per_class_recall"]["circle"] == 1.0
    assert read_records(run) == []  # nothing was generated or scored


def test_a_broken_colour_classifier_is_refused(tmp_path, broken_plugins):
    run, go = _execute(tmp_path, "color_classifier: test-always-red")
    with pytest.raises(RunError, match=r"colour self-check failed .* accuracy 0\.17 < 0\.90"):
        go()
    assert _manifest(run)["preflight"]["geneval"]["color_accuracy"] == pytest.approx(3 / 18)


def test_bounds_are_configurable(tmp_path, broken_plugins):
    extra = "detector: test-blind-triangles, calibration_min_recall: 0.0"
    run, go = _execute(tmp_path, extra)
    go()  # the user accepted a detector that misses a class: recorded, not refused
    assert _manifest(run)["preflight"]["geneval"]["passed"] is True


def test_calibration_from_an_official_layout_folder(tmp_path, broken_plugins):
    root = tmp_path / "calib"
    for i, (shape, color) in enumerate([("circle", "red"), ("triangle", "blue")]):
        image = Image.fromarray(render(Scene((ShapeObject(shape, color, 4, 4, 10),))))
        meta = {"tag": "colors", "prompt": f"a photo of a {color} {shape}",
                "include": [{"class": shape, "count": 1, "color": color}]}  # fmt: skip
        save_sample(root, i, 0, image, meta)
    ok = GenEvalSuite(GenEvalConfig(prompts_per_tag=1, calibration=str(root))).preflight()
    assert ok["passed"] and ok["images"] == 2 and ok["source"] == str(root)
    blind = GenEvalConfig(prompts_per_tag=1, calibration=str(root), detector="test-blind-triangles")
    with pytest.raises(Exception, match="recall of 'triangle'"):
        GenEvalSuite(blind).preflight()


def test_no_calibration_for_a_real_detector_is_recorded_as_unchecked(broken_plugins):
    names = REPO.parent / "shared" / "data" / "geneval" / "object_names.txt"
    names = Path(os.environ.get("HBENCH_GENEVAL_DATA", names.parent)) / "object_names.txt"
    if not names.is_file():
        pytest.skip(f"GenEval object names not found at {names}")
    cfg = GenEvalConfig(prompts="coco", object_names=str(names), prompts_per_tag=1,
                        detector="test-blind-triangles")  # fmt: skip
    assert GenEvalSuite(cfg).preflight()["checked"] is False  # auto: a COCO run names a folder
    cfg = GenEvalConfig(prompts_per_tag=1, calibration="none")
    assert GenEvalSuite(cfg).preflight() == {
        "checked": False, "why": "no calibration set (set calibration: <folder>)",
    }  # fmt: skip
    with pytest.raises(PreflightError, match="calibration 'nowhere' is not auto"):
        GenEvalSuite(GenEvalConfig(prompts_per_tag=1, calibration="nowhere")).preflight()


def test_transformers_mask2former_is_labelled_not_comparable():
    from hbench.tasks.geneval.protocols import PROTOCOLS, protocol_card

    cfg = GenEvalConfig(prompts="shapes", detector="shapes")
    fake = type("Cfg", (), {**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__},
                            "prompts": "meta.jsonl", "detector": "hf-detection",
                            "color_classifier": "clip"})  # fmt: skip
    card = protocol_card(PROTOCOLS.get("official"), fake, 553)
    assert not card.comparable and HF_LABEL in card.why
    fake.detector = "mmdet"
    assert protocol_card(PROTOCOLS.get("official"), fake, 553).comparable
    assert not protocol_card(PROTOCOLS.get("strict"), fake, 553).comparable

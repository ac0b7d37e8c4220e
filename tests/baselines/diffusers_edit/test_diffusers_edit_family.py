"""The diffusers-edit family: a tiny InstructPix2Pix pipeline through the gedit suite."""

import numpy as np
import pytest
import torch

from hbench.baselines.diffusers_edit.tiny import build_tiny_ip2p, build_tiny_unet
from hbench.harness import plugins
from hbench.harness.config_specs import SuiteSpec
from hbench.harness.sample_run import run_item
from hbench.harness.store import RunStore
from hbench.harness.system import CapabilityError
from hbench.tasks.gedit.suite import GEditConfig, GEditSuite


@pytest.fixture(scope="module")
def tiny_ip2p(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_ip2p")
    build_tiny_ip2p(root / "pipe")
    build_tiny_unet(seed=7).save_pretrained(root / "student", safe_serialization=True)
    return root


def _family():
    return plugins.SYSTEMS.get("diffusers-edit")


def _load(variant, **opts):
    fam = _family()
    system = fam.build(variant, fam.Options(**opts))
    system.load("cpu", torch.float32)
    return system


def test_baseline_and_few_step_through_the_suite_with_counted_nfe(tiny_ip2p, tmp_path):
    path = str(tiny_ip2p / "pipe")
    systems = {v: _load(v, path=path, steps=3, few_steps=1) for v in ("baseline", "few-step")}
    # metrics off: they are tested with the suite; here the editing path and NFE matter
    suite = GEditSuite(
        GEditConfig(samples_per_type=1, task_types=("color_alter", "subject-remove"), metrics=False)
    )
    items = suite.items(run_seed=0)
    store = RunStore(tmp_path / "run")
    spec = SuiteSpec("gedit", suite.config, tuple(systems))
    for item in items:  # interleaved A B A B, as the runner does
        for variant, system in systems.items():
            store.append(run_item(suite, spec, system, variant, item, store, "cpu"))
    recs = store.records()
    store.close()
    assert not [r["error"] for r in recs if r["error"]]
    by = {v: [r for r in recs if r["variant"] == v] for v in systems}
    assert [r["sample"] for r in by["baseline"]] == [r["sample"] for r in by["few-step"]]
    assert [r["seed"] for r in by["baseline"]] == [r["seed"] for r in by["few-step"]]
    # Text + image guidance: 3 rows per step in one UNet call, counted by the profiler's hooks.
    assert {(r["profile"]["nfe"], r["profile"]["merged_calls"]) for r in by["baseline"]} == {(9, 3)}
    assert {(r["profile"]["nfe"], r["profile"]["merged_calls"]) for r in by["few-step"]} == {(3, 1)}
    assert systems["baseline"].describe()["expected_nfe"] == 9
    for rs in by.values():
        s = suite.summarize(rs)
        assert s["judged"] == len(items) and s["task_types"] == ["color_alter", "subject-remove"]
        assert sorted(rs[0]["metrics"]) == ["O", "PQ", "SC"]


def test_distilled_variant_runs_without_guidance(tiny_ip2p):
    from hbench.harness.profiler import profile_sample

    system = _load("distilled", path=str(tiny_ip2p / "pipe"), student_path=str(tiny_ip2p / "student"),
                   student_steps=2)  # fmt: skip
    from PIL import Image

    image = Image.new("RGB", (32, 32), (210, 210, 210))
    with profile_sample(system.profiled_modules()) as prof:
        out = system.edit(image, "remove the red circle .", seed=3)
    assert (prof.to_dict()["nfe"], prof.to_dict()["merged_calls"]) == (2, 2)
    again = system.edit(image, "remove the red circle .", seed=3)
    assert np.array_equal(np.asarray(out), np.asarray(again))  # the seed fixes the noise
    assert out.size == (32, 32)
    baseline_unet = _load("baseline", path=str(tiny_ip2p / "pipe"), steps=1).pipe.unet
    assert not torch.equal(next(system.pipe.unet.parameters()), next(baseline_unet.parameters()))
    with pytest.raises(CapabilityError):
        system.generate("a red circle", 0)


def test_option_errors(tiny_ip2p, tmp_path):
    fam = _family()
    with pytest.raises(ValueError, match="needs the option path"):
        fam.build("baseline", fam.Options())
    with pytest.raises(FileNotFoundError, match="no model_index.json"):
        fam.build("baseline", fam.Options(path=str(tmp_path)))
    with pytest.raises(ValueError, match="needs the option student_path"):
        fam.build("distilled", fam.Options(path=str(tiny_ip2p / "pipe")))
    with pytest.raises(ValueError, match="unknown diffusers-edit variant 'nfe6'"):
        fam.build("nfe6", fam.Options(path=str(tiny_ip2p / "pipe")))
    with pytest.raises(ValueError, match="few_steps must be >= 1"):
        fam.Options(path="x", few_steps=0)

"""The GenEval suite driven like the runner drives it: shapes oracle, official files, tiny diffusers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from hbench.harness import plugins
from hbench.harness.config import ConfigError, load_config
from hbench.harness.runner import execute
from hbench.harness.store import RunStore
from hbench.tasks.geneval.cli import main
from hbench.tasks.geneval.layout import read_layout
from hbench.tasks.geneval.metadata import MetadataError, load_metadata, write_metadata
from hbench.tasks.geneval.rules import Thresholds
from hbench.tasks.geneval.scoring import score_image_dir
from hbench.tasks.geneval.suite import GenEvalConfig, GenEvalSuite, records_to_results
from hbench.tasks.geneval.summary import read_results, summary_scores

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("HBENCH_GENEVAL_DATA", REPO.parent / "shared" / "data" / "geneval"))
OFFICIAL = DATA / "evaluation_metadata.jsonl"


def run_suite(
    suite: GenEvalSuite, system, store: RunStore, variant: str, hook_rows: list | None = None
):
    """The runner's loop for one variant (infer, then evaluate), returning the records."""
    records = []
    for item in suite.items(run_seed=0):
        rows_before = sum(hook_rows) if hook_rows is not None else 0
        output = suite.infer(system, item)
        nfe = sum(hook_rows) - rows_before if hook_rows is not None else None
        res = suite.evaluate(item, output, store.artifacts("geneval", variant))
        records.append({"sample": item.sample, "seed": item.seed, "variant": variant, "output": res.output,
                        "metrics": res.metrics, "details": res.details, "nfe": nfe})  # fmt: skip
    return records


def test_oracle_through_the_suite_and_its_official_layout(tmp_path):
    system = plugins.SYSTEMS.get("shapes").build("oracle", plugins.SYSTEMS.get("shapes").Options())
    system.load("cpu", torch.float32)
    suite = GenEvalSuite(GenEvalConfig(prompts="shapes", prompts_per_tag=3, samples_per_prompt=2))
    items = suite.items(0)
    assert items[0].sample == "00000/0000" and items[1].sample == "00000/0001"
    assert [i.sample for i in items] == sorted(i.sample for i in items)
    assert items[0].seed != items[1].seed and suite.items(0) == items
    warm = suite.warmup_items(0)
    assert (
        len(warm) == 1
        and warm[0].sample == "warmup/0000"
        and warm[0].data["metadata"] == suite.records[0]
    )
    store = RunStore(tmp_path / "run")
    records = run_suite(suite, system, store, "oracle")
    scores = suite.summarize(records)
    assert scores["overall"] >= 0.99, [
        r["details"]["reason"] for r in records if not r["metrics"]["correct"]
    ]
    assert set(scores["tags"]) == {
        "single_object",
        "two_object",
        "counting",
        "colors",
        "position",
        "color_attr",
    }
    assert scores["total_images"] == len(items) and scores["extras"]["samples_per_prompt"] == 2
    # the layout copy scores the same through the folder scorer
    layout = store.artifacts("geneval", "oracle").path("layout")
    assert len(read_layout(layout)) == len(suite.records)
    det, clf = plugins.DETECTORS.get("shapes")(), plugins.COLOR_CLASSIFIERS.get("shapes")()
    assert score_image_dir(layout, det, clf, Thresholds()).summary["overall"] == scores["overall"]
    rows = records_to_results(records)
    assert (
        rows[0]["filename"].endswith("00000/samples/0000.png")
        and json.loads(rows[0]["metadata"])["prompt"]
    )
    cmp = suite.compare(records, records)
    assert cmp["same_verdict"] == 1.0 and all(t["diff"] == 0 for t in cmp["per_tag"].values())


@pytest.mark.skipif(
    not OFFICIAL.is_file(), reason=f"official GenEval metadata not found at {OFFICIAL}"
)
def test_official_file_items_and_broken_file(tmp_path):
    suite = GenEvalSuite(GenEvalConfig(prompts=str(OFFICIAL), limit=3))
    assert len(suite.items(0)) == 12  # four samples per prompt by default
    assert suite.items(0)[-1].sample == "00002/0003"
    assert suite.items(0)[0].data["metadata"]["prompt"] == "a photo of a bench"
    bad = write_metadata(
        tmp_path / "bad.jsonl",
        [{"tag": "single_object", "include": [{"class": "a"}], "prompt": "p"}],
    )
    with pytest.raises(MetadataError, match=r"bad.jsonl:1: include\[0\] is missing 'count'"):
        GenEvalSuite(GenEvalConfig(prompts=str(bad)))


def test_config_and_plugin_errors(tmp_path):
    text = "system: {family: shapes, variants: [oracle], reference: oracle}\nsuites:\n  geneval:\n    prompts_per_tag: 2\n    treshold: 0.5\n"
    with pytest.raises(
        ConfigError,
        match=r"cfg.yaml:5: suites.geneval.treshold: unknown key. Did you mean 'threshold'",
    ):
        load_config(tmp_path / "cfg.yaml", plugins.SYSTEMS, plugins.SUITES, text=text)
    with pytest.raises(ValueError, match="counting_threshold must be in"):
        GenEvalConfig(counting_threshold=2.0)
    with pytest.raises(ValueError, match=r"detector 'shapes': unknown option\(s\) 'min_pixel'"):
        GenEvalSuite(GenEvalConfig(detector_options={"min_pixel": 3}))
    with pytest.raises(KeyError, match="Did you mean: clip"):
        GenEvalSuite(GenEvalConfig(color_classifier="clips"))


# ------------------------------------------------------------------------------ diffusers


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    from hbench.baselines.diffusers.tiny import build_tiny_sd, build_tiny_student

    root = tmp_path_factory.mktemp("tiny_sd")
    build_tiny_sd(root / "pipe")
    build_tiny_student(root / "pipe", root / "student")
    return root


def test_tiny_diffusers_pipeline_through_the_suite_with_nfe(tiny_pipeline, tmp_path):
    family = plugins.SYSTEMS.get("diffusers")
    options = family.Options(path=str(tiny_pipeline / "pipe"), steps=3, few_steps=2,
                             student_path=str(tiny_pipeline / "student"), student_steps=2)  # fmt: skip
    suite = GenEvalSuite(
        GenEvalConfig(prompts="shapes", prompts_per_tag=1, samples_per_prompt=1, limit=2)
    )
    store = RunStore(tmp_path / "run")
    expected = {
        "baseline": 2 * 3,
        "distilled": 2,
    }  # CFG doubles rows; guidance off does not
    for variant, nfe in expected.items():
        system = family.build(variant, options)
        system.load("cpu", torch.float32)
        rows: list[int] = []
        system.profiled_modules()["generator"].register_forward_pre_hook(
            lambda m, args, kwargs, rows=rows: rows.append(args[0].shape[0]), with_kwargs=True
        )
        records = run_suite(suite, system, store, variant, rows)
        assert [r["nfe"] for r in records] == [nfe] * 2
        scores = suite.summarize(records)
        assert 0.0 <= scores["overall"] <= 1.0 and scores["total_images"] == 2
        for r in records:
            assert (
                r["metrics"]["correct"] in (0.0, 1.0)
                and (tmp_path / "run" / r["output"]["image"]).is_file()
            )
        layout = store.artifacts("geneval", variant).path("layout")
        assert [len(f.samples) for f in read_layout(layout)] == [1, 1]


def test_runner_executes_the_suite_and_counts_nfe(tiny_pipeline, tmp_path):
    text = f"""
system:
  family: diffusers
  variants: [baseline, distilled]
  options: {{path: "{tiny_pipeline / "pipe"}", steps: 2, student_path: "{tiny_pipeline / "student"}", student_steps: 1}}
suites:
  geneval: {{prompts: shapes, prompts_per_tag: 1, samples_per_prompt: 1, limit: 2}}
"""
    config = load_config(tmp_path / "run.yaml", plugins.SYSTEMS, plugins.SUITES, text=text)
    scores = execute(config, tmp_path / "run", progress=False)
    block = scores["suites"]["geneval"]
    assert block["primary_metric"] == "correct"
    assert block["variants"]["baseline"]["profile"]["nfe_mean"] == 4
    assert block["variants"]["distilled"]["profile"]["nfe_mean"] == 1
    assert "overall" in block["variants"]["distilled"]["scores"]
    assert block["comparisons"]["distilled"]["n_pairs"] == 2
    # every variant's official results jsonl and prompt file sit beside its layout copy
    exported = tmp_path / "run" / "artifacts" / "geneval" / "distilled"
    rows = read_results(exported / "results.jsonl")
    assert summary_scores(rows)["overall"] == block["variants"]["distilled"]["scores"]["overall"]
    assert len(load_metadata(exported / "evaluation_metadata.jsonl")) == 2
    # the run's records export as the official results jsonl, pointing into the layout copy
    out = tmp_path / "results.jsonl"
    assert main(["export", str(tmp_path / "run"), "--variant", "baseline", "-o", str(out)]) == 0
    rows = read_results(out)
    assert [r["filename"] for r in rows] == [
        "artifacts/geneval/baseline/layout/00000/samples/0000.png",
        "artifacts/geneval/baseline/layout/00001/samples/0000.png",
    ]
    assert (tmp_path / "run" / rows[0]["filename"]).is_file()

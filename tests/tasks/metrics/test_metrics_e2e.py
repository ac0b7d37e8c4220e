"""A config naming every weight-based metric with local checkpoint paths runs end to end
(random-weight checkpoints saved to temporary folders), and a missing checkpoint path
fails with one line naming it, before anything runs."""

from __future__ import annotations

import json

import pytest

from hbench import cli
from hbench.harness import plugins
from hbench.harness.comparisons import find
from hbench.harness.config import ConfigError, load_config
from hbench.harness.metric_values import latest_values
from hbench.harness.metrics_pass import build_metrics, run_metrics
from hbench.harness.runner import execute

CONFIG = """\
system: {{family: metrics-test, variants: [clean, blurred]}}
suites:
  geneval: {{prompts: shapes, prompts_per_tag: 1, samples_per_prompt: 1}}
  gedit: {{source: shapes, samples_per_type: 1, task_types: [color_alter, subject-remove]}}
metrics:
  hpsv2: {{checkpoint: {hps}, model: {oc_model}, model_config: {oc_config}, batch_size: 4}}
  pickscore: {{model: {hf}, suites: [geneval]}}
  clipscore: {{model: {hf}, text_keys: [prompt, instruction]}}
  aesthetic: {{head: {head}, clip_checkpoint: {oc_st}, clip_model: {oc_model},
              model_config: {oc_config}, quick_gelu: false}}
  fid: {{reference: {ref}, features: clip, checkpoint: {hf}, suites: [geneval], resamples: 50}}
  kid: {{reference: {ref}, features: clip, checkpoint: {hf}, suites: [geneval], resamples: 50,
        subsets: 5}}
  shapes-edges: {{}}
"""


@pytest.fixture
def config_text(tiny_open_clip, tiny_hf_clip, aesthetic_head, reference_folder):
    o = tiny_open_clip
    return CONFIG.format(hps=o["hps_pt"], oc_model=o["model"], oc_config=o["model_config"],
                         oc_st=o["safetensors"], hf=tiny_hf_clip, head=aesthetic_head,
                         ref=reference_folder)  # fmt: skip


def test_every_metric_end_to_end(tmp_path, degraded_family, config_text):
    (tmp_path / "c.yaml").write_text(config_text)
    config = load_config(tmp_path / "c.yaml", plugins.SYSTEMS, plugins.SUITES)
    scores = execute(config, tmp_path / "run", progress=False)
    gen, ged = scores["suites"]["geneval"], scores["suites"]["gedit"]
    per_sample = {"hpsv2", "pickscore", "clipscore", "aesthetic", "shapes-edges"}
    for variant in ("clean", "blurred"):
        assert set(gen["variants"][variant]["sample_metrics"]) == per_sample
        assert gen["variants"][variant]["sample_metrics"]["hpsv2"]["n"] == 6
        sets = gen["variants"][variant]["set_metrics"]
        assert sets["fid"]["n"] == 6 and sets["fid"]["n_reference"] == 24
        assert sets["fid"]["too_small"] and sets["kid"]["too_small"]
        assert sets["kid"]["subset_size"] == 6
    cmp = gen["comparisons"]["blurred"]
    # Post-pass values join the records' metrics, so the one comparison engine pairs them.
    diffs = {name: find(cmp["estimates"], "diff", name, "all") for name in per_sample}
    for name, d in diffs.items():
        assert d is not None, name
        assert d["n"] == 6 and d["ci_low"] <= d["estimate"] <= d["ci_high"]
    assert diffs["shapes-edges"]["ci_high"] < 0  # blur is caught
    fid = cmp["set_metrics"]["fid"]
    assert fid["reference"] == "clean" and fid["n"] == 6 and fid["resamples"] == 50
    expected = (
        gen["variants"]["blurred"]["set_metrics"]["fid"]["value"]
        - gen["variants"]["clean"]["set_metrics"]["fid"]["value"]
    )
    assert fid["mean_diff"] == pytest.approx(expected, rel=1e-5, abs=1e-8)
    assert "kid" in cmp["set_metrics"]
    # gedit: no prompt, so hpsv2 skips it; clipscore was told to use the instruction;
    # pickscore, fid and kid were restricted to geneval
    ged_metrics = {e["metric"] for e in ged["comparisons"]["blurred"]["estimates"]}
    assert ged_metrics >= {"clipscore", "aesthetic"}
    assert not {"hpsv2", "pickscore"} & ged_metrics
    assert "set_metrics" not in ged["variants"]["clean"]
    info = scores["metrics_pass"]
    assert info["hpsv2"]["skipped_no_text"] == 4 and info["hpsv2"]["scored"] == 12
    assert info["clipscore"]["scored"] == 16 and info["fid"]["kind"] == "set"
    assert info["fid"]["higher_is_better"] is False
    man = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert man["config"]["metrics"]["pickscore"]["suites"] == ["geneval"]

    # Re-scoring reuses every value and cached feature: no model is built.
    metrics = build_metrics(config)
    again = run_metrics(tmp_path / "run", config, metrics)["metrics"]
    assert not any(m.loaded for m in metrics.values())
    assert again["hpsv2"]["reused"] == 12 and again["hpsv2"]["scored"] == 0
    assert again["fid"]["cached"] == 12 + 24  # generated + reference images
    # A score option changes the values, not the features: still no model.
    (tmp_path / "c2.yaml").write_text(config_text.replace("batch_size: 4", "scale: 1.0"))
    config2 = load_config(tmp_path / "c2.yaml", plugins.SYSTEMS, plugins.SUITES)
    metrics = build_metrics(config2)
    info = run_metrics(tmp_path / "run", config2, metrics)["metrics"]["hpsv2"]
    assert info["scored"] == 12 and not metrics["hpsv2"].loaded
    values = latest_values(tmp_path / "run")
    key = next(k for k in values if k.startswith("geneval/") and k.endswith("/blurred"))
    before = gen["variants"]["blurred"]["sample_metrics"]["hpsv2"]["n"]
    assert before == 6 and abs(values[key]["hpsv2"]) <= 1.0  # cosine, no longer x100


def test_missing_checkpoint_fails_with_one_line(tmp_path, degraded_family, config_text, capsys):
    missing = tmp_path / "gone" / "HPS_v2.1_compressed.pt"
    text = config_text.replace(config_text.split("checkpoint: ")[1].split(",")[0], str(missing), 1)
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(
        ConfigError, match=f"c.yaml:6: metrics.hpsv2: checkpoint: file not found: {missing}"
    ):
        load_config(tmp_path / "c.yaml", plugins.SYSTEMS, plugins.SUITES)
    code = cli.main(["run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(missing) in err
    assert not (tmp_path / "run").exists()


def test_metric_config_errors(tmp_path, degraded_family):
    base = "system: {family: metrics-test}\nsuites:\n  geneval: {prompts_per_tag: 1}\n"
    for metrics, match in [
        ("metrics: {hps: {}}", "Unknown metric 'hps'. Did you mean: hpsv2"),
        ("metrics: {shapes-edges: {suites: [gedit]}}", "'gedit' is not an image suite"),
        ("metrics: {shapes-edges: {batch_size: 0}}", "batch_size must be >= 1"),
        ("metrics: {shapes-edges: {clean_dst: 3}}", "unknown key. Did you mean 'clean_dist'"),
        ("metrics: {hpsv2: {}}", "missing required key\\(s\\): checkpoint"),
    ]:
        (tmp_path / "c.yaml").write_text(base + metrics + "\n")
        with pytest.raises(ConfigError, match=match):
            load_config(tmp_path / "c.yaml", plugins.SYSTEMS, plugins.SUITES)

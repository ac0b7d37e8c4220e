"""``hbench run CONFIG --check``: every missing checkout, weights file and data path at once."""

from __future__ import annotations

from pathlib import Path

from hbench.baselines.bagel.checkout import CHECKOUT_FILES, WEIGHT_FILES
from hbench.cli import main
from hbench.harness import plugins
from hbench.harness.config import load_config
from hbench.harness.paths import missing_paths, required_paths

BAGEL = """\
system:
  family: bagel
  variants: [baseline, spec, nfe6]
  options:
    checkout: {root}/Bagel
    weights: {root}/BAGEL-7B-MoT
    head: {root}/head.safetensors
    nfe6: {{weights: {root}/nfe6.safetensors}}
suites:
  geneval:
    prompts: {root}/evaluation_metadata.jsonl
    detector: hf-detection
    detector_options: {{path: {root}/mask2former}}
  gedit: {{source: {root}/GEdit-Bench, judge: vlm, judge_options: {{path: {root}/judge}}}}
  mme: {{suite: understanding, benchmark: mme, path: {root}/MME}}
  latency: {{inputs: {root}/latency.jsonl, workloads: [t2i]}}
"""


def _touch(root: Path, files: tuple[str, ...]) -> None:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "bagel.yaml"
    path.write_text(BAGEL.format(root=tmp_path))
    return path


def test_check_lists_every_missing_path_at_once(tmp_path, capsys) -> None:
    cfg = _config(tmp_path)
    assert main(["run", str(cfg), "--check"]) == 2
    err = capsys.readouterr().err.splitlines()
    keys = [
        "system.options.checkout", "system.options.weights", "system.options.head",
        "system.options.nfe6.weights", "suites.geneval.prompts",
        "suites.geneval.detector_options.path", "suites.gedit.source",
        "suites.gedit.judge_options.path", "suites.mme.path", "suites.latency.inputs",
    ]  # fmt: skip
    assert len(err) == len(keys) + 1 and err[-1].startswith("hbench: error: 10 missing path(s)")
    for key, line in zip(keys, err, strict=False):
        assert line.startswith(f"hbench: missing: {cfg}: {key}: ") and "not found" in line


def test_check_names_the_files_missing_inside_a_checkout_and_passes_when_all_exist(
    tmp_path, capsys
) -> None:
    root = tmp_path
    _touch(root / "Bagel", CHECKOUT_FILES[1:])  # modeling/bagel/bagel.py missing
    _touch(root / "BAGEL-7B-MoT", WEIGHT_FILES[:-2])  # vocab.json, merges.txt missing
    config = load_config(_config(tmp_path), plugins.SYSTEMS, plugins.SUITES)
    problems = missing_paths(config, plugins.SYSTEMS, plugins.SUITES)
    assert f"checkout: BAGEL checkout '{root}/Bagel' lacks {CHECKOUT_FILES[0]}" in problems[0]
    assert problems[1].endswith(f"'{root}/BAGEL-7B-MoT' lacks vocab.json, merges.txt")
    _touch(root / "Bagel", CHECKOUT_FILES[:1])
    _touch(root / "BAGEL-7B-MoT", WEIGHT_FILES)
    _touch(root, ("head.safetensors", "nfe6.safetensors", "evaluation_metadata.jsonl",
                  "latency.jsonl", "mask2former/config.json", "GEdit-Bench/x.parquet",
                  "judge/config.json", "MME/x"))  # fmt: skip
    assert main(["run", str(_config(tmp_path)), "--check"]) == 0
    assert "no missing paths (10 checked)" in capsys.readouterr().out


def test_variants_check_only_their_own_files_and_other_families_by_convention(tmp_path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(BAGEL.format(root=tmp_path).replace("[baseline, spec, nfe6]", "[baseline]"))
    config = load_config(cfg, plugins.SYSTEMS, plugins.SUITES)
    keys = {r.key for r in required_paths(config, plugins.SYSTEMS, plugins.SUITES)}
    assert "system.options.head" not in keys and "system.options.nfe6.weights" not in keys
    hf = tmp_path / "hf.yaml"
    hf.write_text(
        f"system: {{family: hf, variants: [baseline, spec], options: {{path: {tmp_path}/lm, "
        f"draft_path: {tmp_path}/draft}}}}\nsuites: {{understanding: {{}}}}\n"
    )
    config = load_config(hf, plugins.SYSTEMS, plugins.SUITES)
    problems = missing_paths(config, plugins.SYSTEMS, plugins.SUITES)
    assert [p.split(": ")[1] for p in problems] == [
        "system.options.path",
        "system.options.draft_path",
    ]

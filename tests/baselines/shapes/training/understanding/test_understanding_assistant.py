"""Shapes assistant and the transformers-peer benchmark: checked loading, exactness, plumbing.

Runs on the shipped weights (speed is never asserted here; the benchmark command measures it).
The benchmark and the trainer set one torch thread themselves.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from hbench.baselines.bench.methods import assistant_settings
from hbench.baselines.bench.spec import main as bench_main
from hbench.baselines.shapes.training.understanding.bench_peers import DEFAULT_K, caption_samples
from hbench.baselines.shapes.training.understanding.train_assistant import main as train_main
from hbench.baselines.shapes.understanding.hf_peer import PrefixLlama
from hbench.baselines.shapes.understanding.loading import load_assistant, load_target
from hbench.baselines.shapes.understanding.model import image_tensor
from hbench.baselines.shapes.understanding.tokenizer import prompt_ids
from hbench.baselines.shapes.understanding.weights import (
    ASSISTANT_FILE,
    MANIFEST,
    WEIGHTS_DIR,
    WeightsError,
    read_manifest,
)


def test_assistant_loads_checked_and_shares_the_target_embeddings(tmp_path):
    asst = load_assistant()
    assert isinstance(asst, PrefixLlama)
    target, _ = load_target()
    emb = target.lm.get_input_embeddings().weight
    assert torch.equal(asst.get_input_embeddings().weight, emb)
    assert asst.lm_head.weight.data_ptr() == asst.get_input_embeddings().weight.data_ptr()
    for name in (MANIFEST, ASSISTANT_FILE):
        shutil.copy(WEIGHTS_DIR / name, tmp_path / name)
    data = bytearray((tmp_path / ASSISTANT_FILE).read_bytes())
    data[-1] ^= 0xFF  # one flipped bit of one weight
    (tmp_path / ASSISTANT_FILE).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_assistant(tmp_path)


def test_assisted_generate_with_inputs_embeds_fails_in_transformers():
    """Why hf_peer exists: transformers' assistant ignores ``inputs_embeds`` (5.23)."""
    target, tok = load_target()
    ex = caption_samples(1)[0]
    emb = target.embed_prompt(image_tensor(ex.image), torch.tensor([prompt_ids(tok, ex.prompt)]))
    with pytest.raises(RuntimeError, match="0 elements"):
        target.lm.generate(
            inputs_embeds=emb, max_new_tokens=4, do_sample=False, assistant_model=load_assistant()
        )


def test_assisted_spec_is_checked():
    assert assistant_settings("default") == {}
    assert assistant_settings("heuristic:5:0.4")["num_assistant_tokens"] == 5
    for bad in ("constant:6", "fast:6:0", "constant:six:0"):
        with pytest.raises(ValueError, match="SCHEDULE:TOKENS:THRESHOLD"):
            assistant_settings(bad)


def test_shapes_bench_all_methods_exact(tmp_path, capsys):
    out = tmp_path / "run"
    code = bench_main([
        "--shapes", "--samples", "2", "--warmup", "1", "--max-new-tokens", "16",
        "--assisted", "constant:4:0;heuristic:5:0.4", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    by = {(r["variant"], r["sample"]): r["output"]["token_ids"] for r in records}
    variants = {r["variant"] for r in records}
    assert variants == {
        "greedy", "spec-head", "spec-draft", "hf-greedy", "hf-greedy-embeds", "hf-assisted[constant:4:0]",
        "hf-assisted[heuristic:5:0.4]", "hf-pld",
    }  # fmt: skip
    for v in variants:
        for s in ("00000", "00001"):
            assert by[(v, s)] == by[("greedy", s)], (v, s)
            assert len(by[(v, s)]) > 4
    scores = json.loads((out / "scores.json").read_text())["suites"]["specbench-shapes"]
    pair = scores["comparisons"]["spec-head vs hf-assisted[constant:4:0]"]
    assert pair["reference"] == "hf-assisted[constant:4:0]"
    assert pair["exact_match"]["rate"] == 1.0 and pair["speedup"]["n"] == 2
    assert scores["comparisons"]["spec-head"]["decode_speedup"]["n"] == 2
    assert "spec-draft vs hf-assisted[heuristic:5:0.4]" in scores["comparisons"]
    assert scores["variants"]["hf-assisted[constant:4:0]"]["tau"] > 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["k"] == DEFAULT_K  # the shapes family's spec_k
    assert manifest["config"]["draft_k"] == 32
    assert "spec-head vs hf-assisted[heuristic:5:0.4]" in capsys.readouterr().out


def test_train_assistant_exports_a_loadable_entry(tmp_path):
    weights = tmp_path / "w"
    shutil.copytree(WEIGHTS_DIR, weights, ignore=shutil.ignore_patterns("generator_*"))
    code = train_main([
        "--out", str(tmp_path / "train"), "--weights-dir", str(weights), "--layers", "2",
        "--n-caption", "6", "--n-vqa", "2", "--steps", "2", "--batch", "4",
    ])  # fmt: skip
    assert code == 0
    entry = read_manifest(weights)["files"][ASSISTANT_FILE]
    assert entry["config"]["layers"] == 2 and entry["train_steps"] == 2
    assert 0.0 <= entry["metrics"]["val_top1_agreement"] <= 1.0
    assert load_assistant(weights).config.num_hidden_layers == 2

"""Plumbing of the speculative-decoding benchmark command (speed is never asserted here)."""

from __future__ import annotations

import json

import torch

from hbench.baselines.bench.spec import main
from hbench.baselines.hf.tiny import build_tiny_draft, build_tiny_head, build_tiny_lm


def test_bench_writes_run_store(tmp_path, capsys):
    torch.set_num_threads(1)
    build_tiny_lm(tmp_path / "t", "qwen2", hidden=32)
    build_tiny_draft(tmp_path / "t", tmp_path / "d", noise=0.002)
    build_tiny_head(tmp_path / "t", tmp_path / "h.safetensors")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "the red circle is"}\n{"prompt": "a big cat on the"}\n')
    out = tmp_path / "run"
    code = main([
        "--target", str(tmp_path / "t"), "--draft", str(tmp_path / "d"),
        "--head", str(tmp_path / "h.safetensors"), "--prompts", str(prompts),
        "--max-new-tokens", "6", "--warmup", "1", "--k", "2", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    scores = json.loads((out / "scores.json").read_text())["suites"]["specbench"]
    assert set(scores["variants"]) == {
        "greedy", "spec-draft", "spec-head", "hf-greedy", "hf-assisted", "hf-pld"
    }  # fmt: skip
    for name in ("spec-draft", "spec-head", "hf-greedy", "hf-assisted"):
        assert scores["comparisons"][name]["exact_match"]["rate"] == 1.0, name
        assert f"{name} " in printed
    records = (out / "records.jsonl").read_text().splitlines()
    assert len(records) == 2 * 6
    assert json.loads((out / "manifest.json").read_text())["config"]["k"] == 2
    # Our speculative methods report pooled acceptance per draft position (k = 2 positions);
    # the draft model is a near copy of the target, so its first position is mostly accepted.
    rates = scores["variants"]["spec-draft"]["accept_per_position"]
    assert len(rates) == 2 and all(0.0 <= r <= 1.0 for r in rates) and rates[0] > 0.5
    assert "greedy" not in [n for n, v in scores["variants"].items() if "accept_per_position" in v]
    assert "spec-draft: acceptance per draft position" in printed
    row = json.loads(records[0])
    assert "decode_s" in row["details"]


def test_bench_takes_a_trimmed_draft_and_the_full_vocab_head(tmp_path, capsys):
    """``--draft`` may be a trimmed draft file; ``spec-head-full`` runs only when asked."""
    from hbench.baselines.hf.draft_model import save_trimmed, trim
    from hbench.baselines.hf.engine import load_model
    from hbench.baselines.runtime.eagle import EagleHead

    torch.set_num_threads(1)
    build_tiny_lm(tmp_path / "t", "llama", hidden=32, layers=3)
    save_trimmed(
        trim(load_model(tmp_path / "t", "cpu", torch.float32)[0], 1), tmp_path / "d.safetensors"
    )
    head = EagleHead.load(build_tiny_head(tmp_path / "t", tmp_path / "h.safetensors"))
    head.draft_vocab = torch.arange(0, 40)
    head.save(tmp_path / "h.safetensors")
    out = tmp_path / "run"
    code = main([
        "--target", str(tmp_path / "t"), "--draft", str(tmp_path / "d.safetensors"),
        "--head", str(tmp_path / "h.safetensors"), "--max-new-tokens", "6", "--warmup", "1",
        "--k", "2", "--samples", "2", "--out", str(out),
        "--methods", "greedy,spec-draft,hf-assisted,spec-head,spec-head-full",
    ])  # fmt: skip
    assert code == 0
    scores = json.loads((out / "scores.json").read_text())["suites"]["specbench"]
    for name in ("spec-draft", "hf-assisted", "spec-head", "spec-head-full"):
        assert scores["comparisons"][name]["exact_match"]["rate"] == 1.0, name

"""Trimmed draft models (the target's first layers) and their distillation, on tiny models."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from hbench.baselines.hf.draft_model import EMBED_KEY, load_draft, load_trimmed, save_trimmed, trim
from hbench.baselines.hf.family import HFFamily, HFOptions
from hbench.baselines.hf.tiny import _text_config, build_tiny_head, build_tokenizer

PROMPTS = ("what colour is the circle ?", "how many red square are there ?", "a big cat on the")


def _tiny(path, tied: bool):
    from transformers import AutoModelForCausalLM

    tok = build_tokenizer()
    torch.manual_seed(0)
    cfg = _text_config("llama", len(tok), 64, 4, tie_word_embeddings=tied)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(path)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"  # train_head's
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("draft")
    return {tied: _tiny(d / f"lm-{tied}", tied) for tied in (True, False)}


def _target(folder):
    from hbench.baselines.hf.engine import load_model

    return load_model(folder, "cpu", torch.float32)[0]


@pytest.mark.parametrize("tied", [True, False])
def test_trimmed_file_round_trip(folders, tied, tmp_path):
    target = _target(folders[tied])
    draft = trim(target, 2)
    assert draft.config.num_hidden_layers == 2
    for k, v in draft.model.layers.state_dict().items():
        assert torch.equal(v, target.model.layers.state_dict()[k])
    path = tmp_path / "d.safetensors"
    save_trimmed(draft, path, dtype=torch.float32)
    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
    assert EMBED_KEY not in keys  # the target's table is not shipped
    assert ("lm_head.weight" in keys) is (not tied)
    back = load_trimmed(path, target)
    ids = torch.tensor([[1, 7, 9, 12, 30]])
    assert torch.equal(back(input_ids=ids).logits, draft(input_ids=ids).logits)
    # two layers of four: not the target
    assert not torch.allclose(back(input_ids=ids).logits, target(input_ids=ids).logits)


def test_load_trimmed_rejects_other_files(folders, tmp_path):
    target = _target(folders[True])
    head = build_tiny_head(folders[True], tmp_path / "head.safetensors")
    with pytest.raises(ValueError, match="not an hbench trimmed draft"):
        load_trimmed(head, target)
    from transformers import AutoModelForCausalLM

    wide = AutoModelForCausalLM.from_config(
        _text_config("llama", target.config.vocab_size, 32, 2, tie_word_embeddings=True)
    )
    save_trimmed(wide, tmp_path / "wide.safetensors")
    with pytest.raises(ValueError, match="hidden_size=32 does not match"):
        load_trimmed(tmp_path / "wide.safetensors", target)


def test_greedy_with_trimmed_draft_is_identical_ours_and_transformers(folders, tmp_path):
    target_dir = folders[True]
    target = _target(target_dir)
    path = tmp_path / "d.safetensors"
    save_trimmed(trim(target, 2), path)  # fp16, as shipped
    base = HFFamily.build("baseline", HFOptions(path=str(target_dir)))
    spec = HFFamily.build("spec", HFOptions(path=str(target_dir), draft_path=str(path), spec_k=3))
    for s in (base, spec):
        s.load("cpu", torch.float32)
    assistant = load_draft(path, base.model)
    drafted = 0
    for prompt in PROMPTS:
        ref = base.understand([], prompt, 20)
        out = spec.understand([], prompt, 20)
        assert out.token_ids == ref.token_ids
        drafted += out.stats["drafted_tokens"]
        ids = torch.tensor([base.encode(prompt)])
        ids = torch.cat([torch.tensor([[1]]), ids], dim=1) if ids[0, 0] != 1 else ids
        hf = base.model.generate(
            ids, max_new_tokens=20, do_sample=False, assistant_model=assistant,
            eos_token_id=2, pad_token_id=0,
        )[0, ids.shape[1] :].tolist()  # fmt: skip
        assert hf[: len(ref.token_ids)] == ref.token_ids
    assert drafted > 0


def test_train_draft_resumes_and_exports(folders, tmp_path):
    """The trainer on train_head's real data stages (tiny target): checkpoints, resumes, and
    writes a trimmed file whose manifest records its measured agreement and sha256."""
    from hbench.baselines.hf import train_draft
    from hbench.baselines.hf.engine import load_tokenizer
    from hbench.baselines.hf.train_head import load_data, make_data, make_features

    target_dir = folders[True]
    target = _target(target_dir)
    work = tmp_path / "head"
    work.mkdir()
    make_data(target, load_tokenizer(target_dir), list(PROMPTS) * 4, work, 4, 8, 5.0)
    make_features(target, load_data(work), work)
    args = ["--model", str(target_dir), "--data", str(work), "--work", str(tmp_path / "w"),
            "--layers", "1", "--batch", "2", "--threads", "1"]  # fmt: skip
    assert train_draft.main([*args, "--steps", "2"]) == 0
    out = tmp_path / "out" / "d.safetensors"
    assert train_draft.main([*args, "--steps", "4", "--export", str(out)]) == 0
    log = [json.loads(line) for line in (tmp_path / "w" / "log.jsonl").read_text().splitlines()]
    starts = [r["from_step"] for r in log if "from_step" in r]
    assert starts == [0, 2]
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["train_steps"] == 4 and manifest["layers"] == 1
    assert 0.0 <= manifest["metrics"]["val_top1_agreement"] <= 1.0
    import hashlib

    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert load_trimmed(out, target).config.num_hidden_layers == 1

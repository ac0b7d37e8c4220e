"""hf train_head end to end on a tiny target: data, features, resumable training, export."""

from __future__ import annotations

import hashlib
import json

import torch

from hbench.baselines.hf import train_head
from hbench.baselines.hf.tiny import _text_config, build_tokenizer
from hbench.baselines.runtime.eagle import EagleHead


def _tiny_chat_lm(path):
    from transformers import AutoModelForCausalLM

    tok = build_tokenizer()
    torch.manual_seed(0)
    cfg = _text_config("llama", len(tok), 64, 2, tie_word_embeddings=True)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(path)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    tok.save_pretrained(path)
    return path


def test_train_head_resumes_and_exports_a_loadable_head(tmp_path):
    torch.set_num_threads(1)
    target = _tiny_chat_lm(tmp_path / "lm")
    work = tmp_path / "work"
    args = ["--model", str(target), "--work", str(work), "--max-new", "4", "--gen-batch", "8",
            "--data-minutes", "0.005", "--batch", "2", "--unroll", "2", "--threads", "1"]  # fmt: skip
    assert train_head.main([*args, "--steps", "2"]) == 0
    out = tmp_path / "out" / "head.safetensors"
    assert train_head.main([*args, "--steps", "4", "--export", str(out)]) == 0

    log = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    assert [r["from_step"] for r in log if "from_step" in r] == [0, 2]  # resumed, not restarted
    assert sorted(p.name for p in (work / "data").iterdir())  # the target's own responses
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["kind"] == "eagle-head" and manifest["train_steps"] == 4
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert len(manifest["metrics"]["val_top1_agreement_per_draft_step"]) == 2
    assert "train_head" in manifest["training_command"]
    head = EagleHead.load(out)
    assert head.draft_vocab is not None and len(head.draft_vocab) == manifest["draft_vocab"]["size"]

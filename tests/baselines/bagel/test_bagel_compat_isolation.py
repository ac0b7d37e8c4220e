"""The transformers-4.x shim must not change transformers 5's own models after it is applied."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import torch
from transformers import LlamaConfig, LlamaForCausalLM
cfg = dict(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
           num_attention_heads=4, num_key_value_heads=2, rope_theta=5000.0)
before = LlamaForCausalLM(LlamaConfig(**cfg)).model.rotary_emb.inv_freq.clone()
from hbench.baselines.bagel import compat
assert compat.apply(), "the shim was expected to add the 4.x default RoPE entry"
after = LlamaForCausalLM(LlamaConfig(**cfg)).model.rotary_emb.inv_freq.clone()
assert torch.equal(before, after), (before, after)
print("ok")
"""


def test_shim_leaves_transformers_models_unchanged():
    # A fresh interpreter: the shim edits a process-wide table, so "before" must be clean.
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]

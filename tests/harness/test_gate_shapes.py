"""The shipped shapes claims gate a real run: a corrupted draft head breaks the tau claim.

The claim is a deterministic counter (tokens per target forward), so the verdict does not
depend on how busy the machine is (the former speedup claim flaked in CI)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from hbench.baselines.shapes.family import WEIGHTS_DIR

CLAIMS = Path(__file__).resolve().parents[2] / "claims" / "shapes.yaml"
CONFIG = """\
seed: 0
threads: 1
system:
  family: shapes
  reference: baseline
  variants: [baseline, spec]
  options: {{weights: {weights}}}
suites:
  caption: {{suite: understanding, benchmark: shapes-caption, samples: 12}}
"""
CLAIMS_SUBSET = """\
claims:
  - {suite: caption, variant: spec, check: exact_match, op: "==", value: 1.0}
  - {suite: caption, variant: spec, check: tau, op: ">=", value: 4}
"""


def _corrupt_head(weights: Path) -> None:
    """Replace the draft head's weights by noise, keeping the manifest consistent."""
    from hbench.baselines.shapes.understanding.weights import write_entry

    name = "understanding_head.safetensors"
    tensors = load_file(str(weights / name))
    with safe_open(str(weights / name), "pt") as fh:
        metadata = fh.metadata()
    gen = torch.Generator().manual_seed(0)
    noisy = {
        k: torch.randn(v.shape, generator=gen).to(v.dtype) * v.float().std().to(v.dtype)
        for k, v in tensors.items()
    }
    save_file(noisy, str(weights / name), metadata=metadata)
    entry = json.loads((weights / "understanding_manifest.json").read_text())["files"][name]
    write_entry(
        weights, name, {k: v for k, v in entry.items() if k not in {"sha256", "bytes", "date"}}
    )


def _run_and_gate(tmp_path: Path, weights: Path, tag: str) -> subprocess.CompletedProcess:
    config = tmp_path / f"{tag}.yaml"
    config.write_text(CONFIG.format(weights=weights))
    claims = tmp_path / "claims.yaml"
    claims.write_text(CLAIMS_SUBSET)
    out = tmp_path / tag
    run = subprocess.run([sys.executable, "-m", "hbench", "run", str(config), "--out", str(out), "--quiet"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return subprocess.run([sys.executable, "-m", "hbench", "gate", str(out), "--claims", str(claims)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_claims_subset_is_taken_from_the_shipped_claims():
    text = CLAIMS.read_text()
    for line in CLAIMS_SUBSET.splitlines()[1:]:
        assert line.strip() in text


def test_gate_passes_shipped_head_and_fails_corrupted_head(tmp_path):
    good = _run_and_gate(tmp_path, WEIGHTS_DIR, "good")
    assert good.returncode == 0, good.stdout + good.stderr

    weights = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, weights)
    _corrupt_head(weights)
    bad = _run_and_gate(tmp_path, weights, "bad")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    lines = bad.stdout.splitlines()
    # Still lossless (the target decides every token) but no longer drafting: the claim is named.
    assert any(ln.startswith("PASS") and "exact_match" in ln for ln in lines)
    assert any(ln.startswith("FAIL") and "caption/spec tau >= 4" in ln for ln in lines)

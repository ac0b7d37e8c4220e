"""The README's demo command end to end on the shipped shapes weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hbench.harness.store import read_records


def test_demo_writes_run_and_the_oracle_is_perfect(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "hbench", "demo", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("manifest.json", "records.jsonl", "scores.json"):
        assert (out / name).exists()
    scores = json.loads((out / "scores.json").read_text())["suites"]
    geneval = scores["geneval"]["variants"]["oracle"]["scores"]
    assert geneval["overall"] >= 0.99
    assert set(geneval["tags"]) == {
        "single_object",
        "two_object",
        "counting",
        "colors",
        "position",
        "color_attr",
    }
    assert not any(r["error"] for r in read_records(out))
    # Greedy speculative decoding reproduces the baseline token for token.
    spec = [r for r in read_records(out) if r["suite"] == "caption" and r["variant"] == "spec"]
    base = {
        r["sample"]: r
        for r in read_records(out)
        if r["suite"] == "caption" and r["variant"] == "baseline"
    }
    assert spec and all(
        r["output"]["token_ids"] == base[r["sample"]]["output"]["token_ids"] for r in spec
    )
    assert "image metrics" in proc.stdout and "geneval" in proc.stdout
    # The shipped claims hold on the demo run (the CI regression gate).
    claims = Path(__file__).resolve().parents[2] / "claims" / "shapes.yaml"
    gate = subprocess.run([sys.executable, "-m", "hbench", "gate", str(out), "--claims", str(claims)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert gate.returncode == 0, gate.stdout + gate.stderr

"""The gate's pre-check: which records a finished run must hold."""

from __future__ import annotations

from hbench.harness.gate_precheck import expected_keys

MANIFEST = {
    "config": {
        "seed": 0,
        "suites": {
            "vqa": {
                "suite": "understanding",
                "benchmark": "shapes-vqa",
                "samples": 6,
                "variants": ["baseline", "spec"],
            }
        },  # fmt: skip
    }
}


def test_a_limit_run_expects_its_first_n_samples_only():
    full = expected_keys(MANIFEST)
    limited = expected_keys({**MANIFEST, "limit": 2})
    assert full is not None and limited is not None
    assert len(full["vqa"]) == 6 * 2
    assert len(limited["vqa"]) == 2 * 2 and limited["vqa"] < full["vqa"]

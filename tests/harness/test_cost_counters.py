"""Deterministic cost counters on a real shapes run: NFE, target forwards, tau, FLOPs."""

from __future__ import annotations

import pytest

from hbench.harness import comparisons as cmp
from hbench.harness import plugins
from hbench.harness.claims import parse_claims
from hbench.harness.config import load_config
from hbench.harness.gate import check_claims
from hbench.harness.runner import execute
from hbench.harness.store import read_records

CONFIG = """\
seed: 0
threads: 1
count_flops: true
system:
  family: shapes
  reference: baseline
  variants: [baseline, spec, nfe6]
suites:
  geneval: {prompts: shapes, prompts_per_tag: 1, samples_per_prompt: 1, variants: [baseline, nfe6]}
  caption: {suite: understanding, benchmark: shapes-caption, samples: 4, variants: [baseline, spec]}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cost")
    (root / "c.yaml").write_text(CONFIG)
    config = load_config(root / "c.yaml", plugins.SYSTEMS, plugins.SUITES)
    scores = execute(config, root / "run", progress=False, argv=["t"])
    return root / "run", scores


def test_counters_are_recorded_per_sample(run) -> None:
    root, _ = run
    recs = read_records(root)
    gen = {r["variant"]: r["cost"] for r in recs if r["suite"] == "geneval"}
    assert gen["baseline"]["nfe"] == 98 and gen["nfe6"]["nfe"] == 6
    assert gen["baseline"]["flops"] > gen["nfe6"]["flops"] > 0
    text = [r for r in recs if r["suite"] == "caption"]
    for r in text:
        c = r["cost"]
        assert c["target_forwards"] >= 1 and c["new_tokens"] == len(r["output"]["token_ids"])
        # tau = tokens after the prefill per decoding forward (DecodeStats.acceptance_length)
        expect = (
            1.0 if c["target_forwards"] <= 1 else (c["new_tokens"] - 1) / (c["target_forwards"] - 1)
        )
        assert c["tau"] == pytest.approx(expect)
        if r["variant"] == "spec":
            assert 0 <= c["accepted_tokens"] <= c["drafted_tokens"]
        else:
            assert c.get("drafted_tokens", 0) == 0 and c["tau"] == 1.0


def test_flops_follow_the_generator_work(run) -> None:
    root, scores = run
    entries = scores["suites"]["geneval"]["comparisons"]["nfe6"]["estimates"]
    nfe = cmp.find(entries, "nfe_ratio", None, "all")["estimate"]
    flops = cmp.find(entries, "flops_ratio", None, "all")["estimate"]
    # The same network per row; the text encoder and VAE run once in both: 1 < ratio <= NFE ratio.
    assert nfe == pytest.approx(98 / 6) and 1.0 < flops <= nfe


def test_counter_claims_decide_on_the_run(run) -> None:
    root, _ = run
    claims = parse_claims(
        "claims:\n"
        "  - {suite: geneval, variant: nfe6, check: flops_ratio, op: '>=', value: 2}\n"
        "  - {suite: geneval, variant: nfe6, check: nfe_ratio, op: '>=', value: 16.3}\n"
        "  - {suite: caption, variant: spec, check: target_forwards_ratio, op: '>', value: 1}\n"
        "  - {suite: caption, variant: spec, check: tau, op: '>', value: 1}\n"
        "  - {suite: caption, variant: baseline, check: target_forwards, op: '>=', value: 1}\n"
    )
    results = check_claims(claims, root)
    assert [r.status for r in results] == ["pass"] * 5, [r.line() for r in results]


LATENCY = """\
seed: 0
threads: 1
system:
  family: shapes
  reference: baseline
  variants: [baseline, spec]
suites:
  latency: {workloads: [understanding], samples: 2, repeats: 1, warmup: 1}
"""
SEQUENTIAL = """\
min_blocks: 2
max_blocks: 3
claims:
  - {suite: latency, workload: understanding, variant: spec, check: speedup, op: ">=", value: 1.0, rule: sequential}
"""


def test_measure_adds_blocks_until_the_rule_decides_or_the_cap(tmp_path) -> None:
    from hbench.harness.claims import load_claims
    from hbench.harness.gate_measure import measure_until_decided

    (tmp_path / "c.yaml").write_text(LATENCY)
    (tmp_path / "claims.yaml").write_text(SEQUENTIAL)
    config = load_config(tmp_path / "c.yaml", plugins.SYSTEMS, plugins.SUITES)
    execute(config, tmp_path / "run", progress=False, argv=["t"])
    claims = load_claims(tmp_path / "claims.yaml")
    (before,) = check_claims(claims, tmp_path / "run")
    assert before.status == "inconclusive" and "measure another block" in before.line()
    (after,) = measure_until_decided(claims, tmp_path / "run", check_claims)
    repeats = {r["details"]["repeat"] for r in read_records(tmp_path / "run")}
    assert repeats in ({0, 1}, {0, 1, 2})  # one block added at a time, never past the cap
    assert after.status in ("pass", "fail") or "cap of 3 blocks" in after.line()
    assert after.status != "inconclusive" or repeats == {0, 1, 2}

"""One verdict (#22): the comparison engine, roles, cost counters, the sequential timing rule
and ``--against``, on recorded data (no clock is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hbench.gate_cli import main as gate_main
from hbench.harness import comparisons as cmp
from hbench.harness import statistics as st
from hbench.harness.claims import parse_claims
from hbench.harness.gate import check_claims, exit_status

TAGS = ("a", "b", "c")


def _rec(suite, sample, variant, *, seconds=1.0, metrics=None, details=None, output=None,
         cost=None, seed=1):  # fmt: skip
    return {"key": f"{suite}/{sample}/{seed}/{variant}", "suite": suite, "sample": sample,
            "seed": seed, "variant": variant, "metrics": metrics or {}, "details": details or {},
            "output": output or {}, "profile": {"seconds": seconds}, "cost": cost or {},
            "error": None}  # fmt: skip


def _write(run: Path, records: list[dict], roles: dict[str, str], declared: dict[str, dict]):
    """A run directory scored by the engine, as the runner writes it."""
    run.mkdir(parents=True)
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    suites = {}
    for suite, meta_dict in declared.items():
        meta = cmp.SuiteMeta.from_dict(meta_dict)
        mine = [r for r in records if r["suite"] == suite]
        ref = [r for r in mine if r["variant"] == "baseline"]
        comps = {}
        for v in sorted({r["variant"] for r in mine} - {"baseline"}):
            oth = [r for r in mine if r["variant"] == v]
            comps[v] = {"estimates": cmp.compare(ref, oth, meta, roles[v])}
        suites[suite] = {"declared": meta.to_dict(), "variants": {}, "comparisons": comps}
    scores = {
        "reference": "baseline",
        "roles": {"baseline": "reference", **roles},
        "suites": suites,
    }
    (run / "scores.json").write_text(json.dumps(scores))
    (run / "manifest.json").write_text(json.dumps({"system": {"reference": "baseline"}}))
    return run


def _gen_records(shift: float = 0.0, slow: float = 1.0, nfe: int = 6) -> list[dict]:
    out = []
    for i in range(18):
        tag = TAGS[i % 3]
        base = float(i % 2)
        for variant, value, secs, n in (("baseline", base, 1.0 + 0.01 * i, 98),
                                        ("fast", base - shift * (i % 3 == 0), 0.1 * slow, nfe),
                                        ("oracle", 1.0, 0.001, None)):  # fmt: skip
            out.append(_rec("gen", f"{i:03d}", variant, seconds=secs, metrics={"correct": value},
                            details={"tag": tag}, cost={} if n is None else {"nfe": n}))  # fmt: skip
    return out


GEN = {"gen": {"primary_metric": "correct", "group_field": "tag"}}
ROLES = {"fast": "candidate", "oracle": "bound"}


def test_stratified_overall_is_the_macro_mean_with_its_method_named():
    recs = _gen_records(shift=1.0)
    ref = [r for r in recs if r["variant"] == "baseline"]
    oth = [r for r in recs if r["variant"] == "fast"]
    entries = cmp.compare(ref, oth, cmp.SuiteMeta("correct", "tag"), "candidate")
    overall = cmp.find(entries, "diff", "correct", "overall")
    expect = st.paired_bootstrap([r["metrics"]["correct"] for r in ref],
                                 [r["metrics"]["correct"] for r in oth],
                                 groups=[r["details"]["tag"] for r in ref])  # fmt: skip
    assert (overall["estimate"], overall["ci_low"], overall["ci_high"]) == (
        expect.mean_diff, expect.ci_low, expect.ci_high)  # fmt: skip
    assert overall["method"]["stratified_by"] == "tag" and overall["method"]["resamples"] == 10_000
    assert cmp.find(entries, "diff", "correct", "all")["method"]["stratified_by"] is None
    assert cmp.find(entries, "diff", "correct", "tag=a")["n"] == 6
    assert cmp.find(entries, "nfe_ratio", None, "all")["estimate"] == pytest.approx(98 / 6)


def test_a_bound_gets_quality_rows_only():
    recs = _gen_records()
    ref = [r for r in recs if r["variant"] == "baseline"]
    oracle = [r for r in recs if r["variant"] == "oracle"]
    entries = cmp.compare(ref, oracle, cmp.SuiteMeta("correct", "tag"), "bound")
    assert entries and {e["quantity"] for e in entries} == {"diff"}


def test_workloads_are_never_pooled():
    recs = [_rec("lat", f"{w}/{i}", v, seconds=s, details={"workload": w}, cost={"nfe": n})
            for i in range(4) for w, n0 in (("t2i", 98), ("edit", 147))
            for v, s, n in (("baseline", 1.0, n0), ("fast", 0.1, 6))]  # fmt: skip
    ref = [r for r in recs if r["variant"] == "baseline"]
    oth = [r for r in recs if r["variant"] == "fast"]
    ids = {e["id"] for e in cmp.compare(ref, oth, cmp.SuiteMeta(None, "workload", "workload"))}
    assert "nfe_ratio|workload=edit" in ids and "speedup|workload=t2i" in ids
    assert not any(i.endswith("|all") for i in ids)


def test_text_falls_back_to_text_when_token_ids_are_absent():
    ref = [_rec("cap", "0", "baseline", output={"text": "a red circle", "token_ids": [5, 6]})]
    same = [_rec("cap", "0", "x", output={"text": "a red circle", "token_ids": []})]
    other = [_rec("cap", "0", "x", output={"text": "a blue circle"})]
    assert cmp.exact_match(ref, same, "all", cmp.Settings())["estimate"] == 1.0
    found = cmp.exact_match(ref, other, "all", cmp.Settings())
    assert found["estimate"] == 0.0 and found["divergent"][0] == {
        "sample": "0", "seed": 1, "field": "text", "index": 2}  # fmt: skip


def test_gate_reads_the_stored_entry_and_recomputes_only_other_filters(tmp_path):
    run = _write(tmp_path / "run", _gen_records(shift=1.0), ROLES, GEN)
    claims = parse_claims(
        "claims:\n"
        "  - {suite: gen, variant: fast, check: diff, metric: correct, group_by: tag, op: '>=', value: -1}\n"
        "  - {suite: gen, variant: oracle, check: speedup, op: '>=', value: 1}\n"
        "  - {suite: gen, variant: fast, check: nfe_ratio, op: '>=', value: 16}\n"
    )
    stored, oracle, ratio = check_claims(claims, run)
    entry = json.loads((run / "scores.json").read_text())["suites"]["gen"]["comparisons"]["fast"]
    overall = cmp.find(entry["estimates"], "diff", "correct", "overall")
    assert stored.measurement.source == "scores.json"
    assert (
        stored.measurement.low == overall["ci_low"]
        and stored.measurement.high == overall["ci_high"]
    )
    # A bound has no stored speedup: the gate computes it with the same engine if asked.
    assert oracle.measurement.source == "records" and oracle.status == "pass"
    assert ratio.status == "pass" and ratio.measurement.estimate == pytest.approx(98 / 6)


def _latency(ratio_by_block: list[float]) -> list[dict]:
    """Paired timings whose per-block speedups are known exactly."""
    out = []
    for block, ratio in enumerate(ratio_by_block):
        for i in range(6):
            jitter = 1.0 + 0.02 * i
            for v, s in (("baseline", jitter), ("spec", jitter / ratio)):
                out.append(_rec("lat", f"u/{i}/r{block}", v, seconds=s,
                                details={"workload": "u", "repeat": block}, seed=i))  # fmt: skip
    return out


LAT = {"lat": {"primary_metric": None, "group_field": "workload", "group_kind": "workload"}}
SEQ = "claims:\n  - {suite: lat, workload: u, variant: spec, check: speedup, op: '>=', value: 1.5, rule: sequential}\n"


@pytest.mark.parametrize(
    ("ratios", "status", "code"),
    [
        ([2.0, 2.1], "pass", 0),  # lower bound clears 1.5 after the second block
        ([1.1, 1.2], "fail", 1),  # upper bound below 1.5
        ([1.2, 2.2], "inconclusive", 4),  # interval straddles 1.5: measure another block
    ],
)
def test_sequential_rule_decides_on_recorded_blocks(tmp_path, ratios, status, code):
    run = _write(tmp_path / "run", _latency(ratios), {"spec": "candidate"}, LAT)
    (result,) = check_claims(parse_claims(SEQ), run)
    assert result.status == status, result.line()
    assert exit_status([result]) == code


def test_sequential_inconclusive_at_the_cap(tmp_path):
    run = _write(tmp_path / "run", _latency([1.2, 2.2, 1.2, 2.2]), {"spec": "candidate"}, LAT)
    (result,) = check_claims(parse_claims("max_blocks: 3\n" + SEQ), run)
    assert result.status == "inconclusive" and "cap of 3 blocks" in result.line()


def test_against_same_run_flags_nothing_and_a_planted_regression_is_named(tmp_path, capsys):
    old = _write(tmp_path / "old", _gen_records(), ROLES, GEN)
    same = _write(tmp_path / "same", _gen_records(), ROLES, GEN)
    assert gate_main([str(same), "--against", str(old)]) == 0
    bad = _write(tmp_path / "bad", _gen_records(shift=1.0, slow=2.0, nfe=12), ROLES, GEN)
    junit = tmp_path / "a.xml"
    assert gate_main([str(bad), "--against", str(old), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION gen/fast quality correct" in out  # 6 of 18 samples lost a point
    assert "REGRESSION gen/fast speed speedup vs reference" in out  # within-run ratio halved
    assert "REGRESSION gen/fast cost nfe: old 6 -> new 12" in out
    assert "oracle" not in out  # unchanged
    assert junit.read_text().count("<failure") >= 3

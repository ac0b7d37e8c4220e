"""hbench gate on hand-built run stores (docs/run-store.md format) and the shipped claims."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from hbench.gate_cli import main
from hbench.harness.claims import ClaimsError, load_claims, parse_claims
from hbench.harness.gate import CHECKS, check_claims, resolve_check

REPO = Path(__file__).resolve().parents[2]
EDITS = ("color_alter", "subject-add", "motion_change")
TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
# Hook-counted NFE per image of the shapes engines: (T2I, edit).
NFE = {"baseline": (98, 147), "euler6": (12, 18), "nfe6": (6, 6), "nfe1": (1, 1), "spec": (98, 147)}
SLOWDOWN = {"baseline": 1.0, "euler6": 8.0, "nfe6": 15.0, "nfe1": 60.0, "spec": 1.0}


def _record(suite, sample, seed, variant, metrics=None, output=None, details=None, profile=None):
    return {
        "key": f"{suite}/{sample}/{seed}/{variant}",
        "suite": suite, "sample": sample, "seed": seed, "variant": variant,
        "output": output or {}, "metrics": metrics or {}, "details": details or {},
        "profile": profile or {}, "error": None, "finished_at": "2026-11-21T22:00:00+00:00",
    }  # fmt: skip


def make_run(root: Path, *, nfe6_steps: int = 6, corrupt_draft: bool = False, gen_loss: float = 0.0,
             errors: int = 0) -> Path:  # fmt: skip
    """A run store like the shapes CI run: understanding, geneval and latency suites.

    ``nfe6_steps`` forces the nfe6 variant to another NFE (as if its sampler ran more steps),
    ``corrupt_draft`` makes spec diverge from the baseline on a third of the answers (a broken
    draft head that the verifier would not catch), ``gen_loss`` flips that share of nfe6's
    correct GenEval samples to wrong.
    """
    rng = np.random.default_rng(0)
    recs = []
    for i in range(30):  # understanding: spec must reproduce baseline's tokens
        tokens = rng.integers(0, 40, 12).tolist()
        for v in ("baseline", "spec"):
            out = list(tokens)
            if v == "spec" and corrupt_draft and i % 3 == 0:
                out[5] = (out[5] + 1) % 40
            recs.append(_record("understanding", f"{i:03d}", i, v, {"exact": 1.0},
                                {"text": " ".join(map(str, out)), "token_ids": out}))  # fmt: skip
    nfe = {**NFE, "nfe6": (nfe6_steps, nfe6_steps)}
    for i in range(60):  # geneval: per-sample correctness, tag per sample
        base = float(rng.random() < 0.6)
        for v in ("baseline", "nfe6", "nfe1"):
            correct = base if v != "nfe1" else float(rng.random() < 0.3)
            if v == "nfe6" and base == 1.0 and rng.random() < gen_loss:
                correct = 0.0
            prof = {"seconds": 0.4 / SLOWDOWN[v], "nfe": nfe[v][0], "merged_calls": 49}
            recs.append(_record("geneval", f"{i:05d}", 1000 + i, v, {"correct": correct},
                                details={"tag": TAGS[i % 6]}, profile=prof))  # fmt: skip
    for i in range(36):  # gedit: VIEScore O per sample, task type in the output
        base = float(rng.uniform(2, 9))
        for v in ("baseline", "nfe6"):
            prof = {"seconds": 0.5 / SLOWDOWN[v], "nfe": nfe[v][1], "merged_calls": 49}
            recs.append(_record("gedit", f"{i:04d}", 2000 + i, v, {"O": base - (0.1 if v == "nfe6" else 0)},
                                {"task_type": EDITS[i % 3]}, {}, prof))  # fmt: skip
    for workload, base_s in (("understanding", 0.05), ("t2i", 0.4), ("edit", 0.5)):
        for i in range(8):
            tokens = rng.integers(0, 40, 10).tolist()
            for v in ("baseline", "spec", "nfe6", "nfe1", "euler6"):
                noise = float(np.exp(rng.normal(0, 0.03)))
                speed = 1.6 if (workload == "understanding" and v == "spec") else 1.0
                if workload != "understanding":
                    speed = SLOWDOWN[v] * (6 / nfe["nfe6"][0] if v == "nfe6" else 1.0)
                prof = {"seconds": base_s / speed * noise, "model_seconds": 0.9 * base_s / speed,
                        "overhead_seconds": 0.1 * base_s / speed, "peak_memory_bytes": 1 << 20}  # fmt: skip
                if workload != "understanding":
                    count = nfe[v][workload == "edit"]
                    prof.update(nfe=count, merged_calls=49 if v in ("baseline", "spec") else count)
                out = {"token_ids": tokens} if workload == "understanding" else {}
                if v == "spec" and corrupt_draft and workload == "understanding" and i % 2 == 0:
                    out = {"token_ids": tokens[:-1]}
                recs.append(_record("latency", f"{workload}-{i:03d}-r0", 7 + i, v,
                                    {"seconds": prof["seconds"]}, out,
                                    {"workload": workload, "repeat": 0}, prof))  # fmt: skip
    for rec in recs[:errors]:
        rec.update(error={"type": "RuntimeError", "message": "boom"}, metrics={})
    root.mkdir(parents=True, exist_ok=True)
    with (root / "records.jsonl").open("w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in recs)
    scores = {"reference": "baseline",
              "suites": {"geneval": {"variants": {
                  "baseline": {"scores": {"overall": 0.60, "tags": {"counting": 0.5}}},
                  "nfe6": {"scores": {"overall": 0.58 - gen_loss, "tags": {"counting": 0.5}}}}}}}  # fmt: skip
    (root / "scores.json").write_text(json.dumps(scores))
    (root / "manifest.json").write_text(json.dumps({"system": {"reference": "baseline"}}))
    return root


CLAIMS = """\
description: test claims
claims:
  - {suite: understanding, variant: spec, check: exact_match, op: "==", value: 1.0}
  - {suite: latency, workload: t2i, variant: nfe6, check: speedup, op: ">=", value: 10}
  - {suite: geneval, variant: nfe6, check: nfe, op: "==", value: 6}
  - suite: geneval
    variant: nfe6
    check: diff_ci_low
    metric: correct
    group_by: tag
    op: ">="
    value: -0.05
  - {suite: geneval, variant: nfe6, check: score_diff, metric: overall, op: ">=", value: -0.05}
"""


@pytest.fixture()
def claims_file(tmp_path: Path) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(CLAIMS)
    return path


def test_gate_passes_on_a_good_run_and_writes_junit_and_summary(
    tmp_path, claims_file, capsys
) -> None:
    run = make_run(tmp_path / "run")
    junit, summary = tmp_path / "out" / "gate.xml", tmp_path / "summary.md"
    status = main(
        [str(run), "--claims", str(claims_file), "--junit", str(junit), "--summary", str(summary)]
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 0, out
    assert len([line for line in out if line.startswith("PASS")]) == 5
    assert out[-1].startswith("5/5 claims hold")
    measured = float(out[1].split("speedup >= 10: measured ")[1].split()[0])
    assert 13 < measured < 17  # built with a 15x ratio and 3% noise
    assert (
        f"[{claims_file}:3]" in out[0]
        and f"[{claims_file}:5]" in out[2]
        and f"[{claims_file}:6]" in out[3]
    )
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "0", "0")
    md = summary.read_text()
    assert md.startswith("### hbench gate passed: 5/5 claims hold") and md.count("✅") == 5


def test_gate_fails_naming_the_claim_when_a_variant_runs_more_steps(
    tmp_path, claims_file, capsys
) -> None:
    run = make_run(tmp_path / "run", nfe6_steps=12)
    junit = tmp_path / "gate.xml"
    assert main([str(run), "--claims", str(claims_file), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out.splitlines()
    failed = [line for line in out if line.startswith("FAIL")]
    # Twice the NFE: the NFE claim fails, and the T2I speedup halves below 10.
    assert any(line.startswith("FAIL  geneval/nfe6 nfe == 6: measured 12 ") for line in failed)
    assert any("latency[workload=t2i]/nfe6 speedup >= 10" in line for line in failed)
    assert len(failed) == 2
    cases = ET.parse(junit).getroot().iter("testcase")
    assert sum(case.find("failure") is not None for case in cases) == 2


def test_gate_fails_on_a_corrupted_draft_head(tmp_path, claims_file, capsys) -> None:
    run = make_run(tmp_path / "run", corrupt_draft=True)
    assert main([str(run), "--claims", str(claims_file)]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert failed == [line for line in failed if "understanding/spec exact_match == 1" in line]
    assert "measured 0.6667" in failed[0] and "wilson" in failed[0]


def test_quality_loss_fails_the_non_inferiority_claim(tmp_path, claims_file, capsys) -> None:
    run = make_run(tmp_path / "run", gen_loss=0.5)
    assert main([str(run), "--claims", str(claims_file)]) == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert any("geneval/nfe6 diff_ci_low(correct) >= -0.05" in line for line in failed)
    assert any("score_diff(overall)" in line for line in failed)


def test_macro_average_of_groups_is_used_with_group_by(tmp_path) -> None:
    run = make_run(tmp_path / "run", gen_loss=0.3)
    cf = parse_claims(
        "claims:\n"
        "  - {suite: geneval, variant: nfe6, check: diff, metric: correct, group_by: tag, op: '<', value: 0}\n"
        "  - {suite: geneval, variant: nfe6, check: diff, metric: correct, op: '<', value: 0}\n"
    )
    grouped, plain = check_claims(cf, run)
    recs = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    by = {(r["sample"], r["variant"]): r for r in recs if r["suite"] == "geneval"}
    diffs = {t: [] for t in TAGS}
    for (sample, v), r in by.items():
        if v == "nfe6":
            diffs[r["details"]["tag"]].append(
                r["metrics"]["correct"] - by[sample, "baseline"]["metrics"]["correct"]
            )
    expected = np.mean([np.mean(d) for d in diffs.values()])
    assert grouped.measurement.estimate == pytest.approx(expected)
    assert grouped.measurement.low <= expected <= grouped.measurement.high
    assert plain.measurement.n == 60 and grouped.status == plain.status == "pass"


def test_unknown_metric_is_an_error_naming_the_line(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run")
    path = tmp_path / "bad.yaml"
    path.write_text(
        "claims:\n"
        "  - {suite: geneval, variant: nfe6, check: nfe, op: '==', value: 6}\n"
        "  - {suite: geneval, variant: nfe6, check: diff_ci_low, metric: corect, op: '>=', value: 0}\n"
    )
    assert main([str(run), "--claims", str(path)]) == 2
    out = capsys.readouterr().out
    assert "ERROR geneval/nfe6 diff_ci_low(corect) >= 0: unknown metric 'corect'" in out
    assert "Did you mean: correct?" in out and f"[{path}:3]" in out


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ("{suite: nope, variant: nfe6, check: nfe, op: '==', value: 6}", "unknown suite 'nope'"),
        ("{suite: geneval, variant: nfe7, check: nfe, op: '==', value: 6}", "unknown variant 'nfe7' in suite 'geneval' of this run. Did you mean: nfe6"),
        ("{suite: geneval, variant: nfe6, check: nfee, op: '==', value: 6}", "unknown check 'nfee'. Did you mean: nfe"),
        ("{suite: latency, workload: t2, variant: nfe6, check: nfe, op: '==', value: 6}", "unknown workload value 't2'"),
        ("{suite: latency, workload: understanding, variant: nfe6, check: nfe, op: '==', value: 6}", "nfe: not in every record's profile"),
        ("{suite: geneval, variant: nfe6, check: score, metric: tags.count, op: '>', value: 0}", "Did you mean: tags.counting"),
    ],
)  # fmt: skip
def test_run_dependent_names_are_errors_with_location(tmp_path, claim, message) -> None:
    run = make_run(tmp_path / "run")
    (result,) = check_claims(parse_claims(f"claims:\n  - {claim}\n", "c.yaml"), run)
    assert result.status == "error" and message in result.message, result.message
    assert result.line().endswith("[c.yaml:2]")


def test_claims_file_structure_errors_are_all_reported_with_lines() -> None:
    text = (
        "claims:\n"
        "  - {suite: geneval, variant: nfe6, check: nfe, op: '=', value: 6}\n"
        "  - suite: geneval\n"
        "    variant: nfe6\n"
        "    check: nfe\n"
        "    value: six\n"
        "    extra: 1\n"
        "threshold: 3\n"
    )
    with pytest.raises(ClaimsError) as err:
        parse_claims(text, "c.yaml")
    lines = str(err.value).splitlines()
    assert lines[0].startswith("c.yaml:8: unknown key 'threshold'")
    assert "c.yaml:2: unknown op '='" in lines[1]
    assert any(line.startswith("c.yaml:7: unknown claim key 'extra'") for line in lines)
    assert any(line.startswith("c.yaml:3: claim is missing op") for line in lines)
    assert any(line.startswith("c.yaml:6: value must be a finite number") for line in lines)
    with pytest.raises(ClaimsError, match=r"c.yaml:3: not valid YAML"):
        parse_claims("claims:\n  - {suite: [\n", "c.yaml")
    with pytest.raises(ClaimsError, match="non-empty list"):
        parse_claims("claims: []\n", "c.yaml")


def test_errored_samples_fail_claims_unless_tolerated(tmp_path) -> None:
    run = make_run(tmp_path / "run", errors=2)  # the first two understanding records
    claim = "  - {suite: understanding, variant: spec, check: exact_match, op: '==', value: 1.0}\n"
    (strict,) = check_claims(parse_claims("claims:\n" + claim), run)
    (lenient,) = check_claims(parse_claims("max_errors: 2\nclaims:\n" + claim), run)
    assert strict.status == "fail" and "2 errored sample(s)" in strict.message
    assert lenient.status == "pass" and lenient.measurement.n == 29
    (count,) = check_claims(
        parse_claims(
            "claims:\n  - {suite: understanding, variant: baseline, check: errors, op: '==', value: 0}\n"
        ),
        run,
    )
    assert count.status == "fail" and count.measurement.estimate == 1.0


def test_ci_bounds_and_interval_checks(tmp_path) -> None:
    run = make_run(tmp_path / "run")
    cf = parse_claims(
        "claims:\n"
        "  - {suite: latency, workload: edit, variant: nfe1, check: speedup_ci_low, op: '>', value: 50}\n"
        "  - {suite: latency, workload: edit, variant: nfe1, check: speedup_ci_high, op: '<', value: 70}\n"
        "  - {suite: geneval, variant: baseline, check: rate, metric: correct, op: '>', value: 0.3}\n"
        "  - {suite: geneval, variant: baseline, check: mean_ci_high, metric: correct, op: '<', value: 0.9}\n"
        "  - {suite: latency, workload: t2i, variant: baseline, check: merged_calls, op: '==', value: 49}\n"
    )
    results = check_claims(cf, run)
    assert [r.status for r in results] == ["pass"] * 5, [r.line() for r in results]
    low, high = results[0].measurement, results[1].measurement
    assert low.compared == (low.low,) and high.compared == (high.high,) and low.low < 60 < low.high
    assert results[2].measurement.interval == "wilson"


def test_missing_run_or_claims_file_exit_2(tmp_path, claims_file, capsys) -> None:
    assert main([str(tmp_path / "nothing"), "--claims", str(claims_file)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main([str(tmp_path), "--claims", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read claims file" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["shapes.yaml", "hyper-bagel.yaml"])
def test_shipped_claims_files_parse_and_use_known_checks(name) -> None:
    cf = load_claims(REPO / "claims" / name)
    assert cf.claims and all(resolve_check(c) for c in cf.claims)


# Claims over the fixture run's suites (understanding, latency, geneval, gedit), in the form of
# claims/shapes.yaml; the shipped file itself is gated on real runs in test_gate_shapes.py.
FIXTURE_CLAIMS = """\
max_errors: 0
claims:
  # --- exact: speculative decoding is lossless under greedy decoding -------------------------
  - {suite: understanding, variant: spec, check: exact_match, op: "==", value: 1.0}
  - {suite: latency, workload: understanding, variant: spec, check: exact_match, op: "==", value: 1.0}

  # --- exact: NFE per image, counted by hooks on the generator ------------------------------
  # Analytic from the shapes engines (baselines/shapes/generator/engines.py): the teacher runs
  # FlowSchedule(50) = 49 Euler steps with CFG over the whole interval, 2 branches for T2I and
  # 3 (text + image guidance) for editing; euler6 runs 6 such steps; the students 6 and 1.
  # If the engines' sampler settings change, these numbers change with them.
  - {suite: latency, workload: t2i, variant: baseline, check: nfe, op: "==", value: 98}
  - {suite: latency, workload: edit, variant: baseline, check: nfe, op: "==", value: 147}
  - {suite: latency, workload: t2i, variant: euler6, check: nfe, op: "==", value: 12}
  - {suite: latency, workload: edit, variant: euler6, check: nfe, op: "==", value: 18}
  - {suite: latency, workload: t2i, variant: nfe6, check: nfe, op: "==", value: 6}
  - {suite: latency, workload: edit, variant: nfe6, check: nfe, op: "==", value: 6}
  - {suite: latency, workload: t2i, variant: nfe1, check: nfe, op: "==", value: 1}
  - {suite: latency, workload: edit, variant: nfe1, check: nfe, op: "==", value: 1}
  - {suite: geneval, variant: nfe6, check: nfe, op: "==", value: 6}
  - {suite: gedit, variant: nfe6, check: nfe, op: "==", value: 6}

  # --- measured: speedups (median of paired ratios) -----------------------------------------
  - {suite: latency, workload: understanding, variant: spec, check: speedup, op: ">=", value: 1.0}  # TODO(lead): measured value minus a safety margin
  - {suite: latency, workload: t2i, variant: nfe6, check: speedup, op: ">=", value: 5.0}  # TODO(lead): measured value minus a safety margin
  - {suite: latency, workload: edit, variant: nfe6, check: speedup, op: ">=", value: 5.0}  # TODO(lead): measured value minus a safety margin
  - {suite: latency, workload: t2i, variant: nfe1, check: speedup, op: ">=", value: 20.0}  # TODO(lead): measured value minus a safety margin

  # --- measured: quality of the students vs the teacher ----------------------------------
  - {suite: geneval, variant: nfe6, check: diff_ci_low, metric: correct, group_by: tag, op: ">=", value: -0.25}  # TODO(lead): margin from the measured shapes run
  - {suite: gedit, variant: nfe6, check: diff_ci_low, metric: O, group_by: task_type, op: ">=", value: -2.0}  # TODO(lead): margin from the measured shapes run
  - {suite: latency, variant: baseline, check: errors, op: "==", value: 0}
"""


def test_shapes_claims_pass_on_a_conforming_run_and_fail_on_broken_ones(tmp_path, capsys) -> None:
    (tmp_path / "claims.yaml").write_text(FIXTURE_CLAIMS)
    claims = str(tmp_path / "claims.yaml")
    assert main([str(make_run(tmp_path / "good")), "--claims", claims]) == 0
    assert main([str(make_run(tmp_path / "steps", nfe6_steps=12)), "--claims", claims]) == 1
    assert main([str(make_run(tmp_path / "draft", corrupt_draft=True)), "--claims", claims]) == 1
    out = capsys.readouterr().out
    assert "FAIL  latency[workload=t2i]/nfe6 nfe == 6: measured 12 " in out
    assert "FAIL  understanding/spec exact_match == 1" in out
    assert "FAIL  latency[workload=understanding]/spec exact_match == 1" in out


def test_every_check_is_documented() -> None:
    from hbench.harness import gate

    for name in CHECKS:
        assert f"\n{name} " in gate.__doc__


def test_several_runs_are_gated_together_one_run_per_suite(tmp_path, claims_file, capsys) -> None:
    whole = make_run(tmp_path / "whole")
    recs = [json.loads(x) for x in (whole / "records.jsonl").read_text().splitlines()]
    scores = json.loads((whole / "scores.json").read_text())
    split = {"a": ("understanding", "latency"), "b": ("geneval", "gedit")}
    for name, suites in split.items():
        (tmp_path / name).mkdir()
        with (tmp_path / name / "records.jsonl").open("w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in recs if r["suite"] in suites)
        part = {
            "reference": "baseline",
            "suites": {k: v for k, v in scores["suites"].items() if k in suites},
        }
        (tmp_path / name / "scores.json").write_text(json.dumps(part))
    args = [str(tmp_path / "a"), str(tmp_path / "b"), "--claims", str(claims_file)]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("5/5 claims hold")
    assert main([str(whole), str(tmp_path / "b"), "--claims", str(claims_file)]) == 2
    assert "suite 'gedit' is in both" in capsys.readouterr().err

"""Report numbers against values computed by hand from the run's own files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from conftest import write_run

from hbench.harness import statistics as st
from hbench.reports import data, tables, tables_quality, text
from hbench.reports.figures import speedup_figure
from hbench.reports.run import load_run, load_runs
from hbench.reports.summary import summary_text


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]


def _rows(table) -> dict[str, tuple[str, ...]]:
    return {row[0]: row for row in table.rows}


def test_geneval_tag_table_matches_the_records(demo_run: Path) -> None:
    recs = [r for r in _records(demo_run) if r["suite"] == "geneval"]
    table = tables_quality.suite_group_tables(load_runs([demo_run]), "geneval")[0]
    col = {c: i for i, c in enumerate(table.columns)}
    rows = _rows(table)
    means = {}
    for tag in {r["details"]["tag"] for r in recs}:
        for variant in ("baseline", "nfe6", "nfe1"):
            vals = [r["metrics"]["correct"] for r in recs
                    if r["details"]["tag"] == tag and r["variant"] == variant]  # fmt: skip
            means[tag, variant] = np.mean(vals)
            assert rows[tag][col[f"{variant} correct"]] == f"{np.mean(vals):.3f}"
        base = [
            r["metrics"]["correct"]
            for r in recs
            if r["details"]["tag"] == tag and r["variant"] == "baseline"
        ]
        nfe1 = [
            r["metrics"]["correct"]
            for r in recs
            if r["details"]["tag"] == tag and r["variant"] == "nfe1"
        ]
        d = st.paired_bootstrap(base, nfe1)
        assert (
            rows[tag][col["Δ nfe1 [95% CI]"]]
            == f"{d.mean_diff:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]"
        )
    scores = json.loads((demo_run / "scores.json").read_text())["suites"]["geneval"]
    overall = scores["variants"]["nfe6"]["scores"]["overall"]
    assert rows["overall"][col["nfe6 correct"]] == f"{overall:.3f}"
    entries = {e["id"]: e for e in scores["comparisons"]["nfe6"]["estimates"]}
    paired = entries["diff:correct|all"]
    assert rows["all samples (paired)"][col["Δ nfe6 [95% CI]"]].startswith(
        f"{paired['estimate']:+.3f} ["
    )
    strat = entries["diff:correct|overall"]  # the engine's stratified overall, with interval
    assert rows["overall"][col["Δ nfe6 [95% CI]"]] == (
        f"{strat['estimate']:+.3f} [{strat['ci_low']:+.3f}, {strat['ci_high']:+.3f}]"
    )


def test_gedit_groups_by_task_type_from_the_output(demo_run: Path) -> None:
    o, sc, pq = tables_quality.suite_group_tables(load_runs([demo_run]), "gedit")
    groups = [row[0] for row in o.rows]
    assert groups[:4] == ["background_change", "color_alter", "subject-add", "subject-remove"]
    assert (sc.key, pq.key) == ("gedit_sc", "gedit_pq")


def test_speedup_is_read_from_scores_json_never_recomputed(demo_run: Path, tmp_path) -> None:
    run = load_run(demo_run)
    assert data.speedup(run, "geneval", "nfe6").source == "scores.json"
    # without scores.json there is no comparison to show (no second implementation)
    bare = write_run(tmp_path / "bare", with_scores=False)
    assert data.speedup(load_run(bare), "geneval", "nfe6") is None
    # scores.json really is what is shown when present
    edited = write_run(tmp_path / "edited")
    doc = json.loads((edited / "scores.json").read_text())
    entries = doc["suites"]["geneval"]["comparisons"]["nfe6"]["estimates"]
    next(e for e in entries if e["id"] == "speedup|all").update(
        estimate=12.5, ci_low=12.0, ci_high=13.0
    )
    (edited / "scores.json").write_text(json.dumps(doc))
    rows = tables.speedup_table(load_runs([edited])).rows
    assert ("geneval", "nfe6", "baseline", "12", "12.50× [12.00, 13.00]") == rows[2][:5]


def test_exact_match_and_first_divergence(demo_run: Path) -> None:
    run = load_run(demo_run)
    em = text.exact_match(run, "understanding", "spec")
    assert (em.matches, em.n, em.compared_on) == (7, 8, "token_ids")
    (div,) = em.divergences
    recs = {(r["sample"], r["variant"]): r for r in _records(demo_run)}
    ref, oth = recs["00005", "baseline"], recs["00005", "spec"]
    assert div.sample == "00005" and div.token_index == 7
    assert (div.reference_token, div.other_token) == (
        ref["output"]["token_ids"][7],
        oth["output"]["token_ids"][7],
    )
    w = st.wilson(7, 8)
    row = tables_quality.exact_match_table([run]).rows[0]
    assert row[4:7] == ("7/8", f"0.875 [{w.low:.3f}, {w.high:.3f}]", "1")
    assert tables_quality.divergence_table([run]).rows[0][2:4] == ("00005", "7")


def test_acceptance_statistics_from_output_and_profile_stages(demo_run: Path) -> None:
    run = load_run(demo_run)
    recs = [r for r in _records(demo_run) if r["variant"] == "spec" and not r["error"]]
    expected = [r["output"].get("acceptance_length") or r["profile"]["stages"]["acceptance_length"]
                for r in sorted(recs, key=lambda r: r["sample"])]  # fmt: skip
    assert text.acceptance_lengths(run, "understanding", "spec") == expected
    per_pos = text.acceptance_per_position(run, "understanding", "spec")
    assert [n for _, n in per_pos] == [8, 8, 8, 8]
    assert text.acceptance_lengths(run, "understanding", "baseline") == []


def test_summary_counts_errors_and_shows_nfe_and_time(demo_run: Path) -> None:
    rows = {(r[0], r[1]): r for r in tables.summary_table(load_runs([demo_run])).rows}
    assert rows["understanding", "spec"][2:4] == ("9", "1")  # n, errors
    assert rows["geneval", "baseline"][5:7] == ("100.0", "50.0")  # NFE, merged calls
    out = summary_text(demo_run)
    for needle in ("geneval", "gedit", "understanding", "latency", "nfe6", "7/8", "100.0", "×"):
        assert needle in out
    assert max(len(line) for line in out.splitlines()) <= 100  # a terminal; the report has more
    assert "overhead: share of a sample's time spent outside the model's forward passes" in out
    # latency: one row per workload (its own NFE, time and speedup; never pooled, #22)
    lat = [line for line in out.splitlines() if re.match(r"latency: \S+ +nfe6 .*×", line)]
    assert len(lat) == 2, out  # t2i and edit


def test_two_runs_side_by_side(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a" / "demo", suites=("geneval", "understanding"), seed=1,
                  revision="1111111aaaa")  # fmt: skip
    b = write_run(tmp_path / "b" / "demo", suites=("geneval", "understanding"), seed=2,
                  revision="2222222bbbb")  # fmt: skip
    runs = load_runs([a, b])
    assert [r.label for r in runs] == ["demo@1111111@ci-box", "demo@2222222@ci-box"]
    summary = tables.summary_table(runs)
    assert summary.columns[2] == "Run"
    assert [(r[0], r[1], r[2]) for r in summary.rows[:2]] == [
        ("geneval", "baseline", runs[0].label), ("geneval", "baseline", runs[1].label)]  # fmt: skip
    tags = tables_quality.suite_group_tables(runs, "geneval")[0]
    assert {row[1] for row in tags.rows} == {r.label for r in runs}
    png = speedup_figure(runs, tmp_path / "out")
    assert png.exists() and png.with_suffix(".pdf").exists()


def test_latency_speedup_is_per_workload(demo_run: Path) -> None:
    run = load_run(demo_run)
    recs = [r for r in _records(demo_run) if r["suite"] == "latency"]
    for workload in ("edit", "t2i"):
        mine = {(r["sample"], r["variant"]): r["profile"]["seconds"] for r in recs
                if r["details"]["workload"] == workload}  # fmt: skip
        samples = sorted({s for s, _ in mine})
        s = st.speedup([mine[k, "baseline"] for k in samples], [mine[k, "nfe6"] for k in samples])
        got = data.speedup(run, "latency", "nfe6", workload)
        assert (got.value, got.low, got.high, got.n) == (s.median, s.ci_low, s.ci_high, 5)
    suites = [row[0] for row in tables.speedup_table([run]).rows]
    assert "latency: edit" in suites and "latency: t2i" in suites and "latency" not in suites


def test_exact_match_only_for_text_outputs(demo_run: Path) -> None:
    run = load_run(demo_run)
    assert text.exact_match(run, "geneval", "nfe6") is None
    assert tables_quality.text_suites([run]) == ["understanding"]


def test_reports_import_no_torch_and_no_upper_layers() -> None:
    import subprocess
    import sys

    code = (
        "import sys, hbench.reports.build, hbench.reports.cli, hbench.reports.summary\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', "
        "'hbench.tasks', 'hbench.baselines', 'hbench.harness.runner')))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

"""The verdict block, the claims table, the before/after table and tables that fit a page."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_run

from hbench.harness.claims import parse_claims
from hbench.harness.gate import check_claims
from hbench.reports import compare, data, verdict
from hbench.reports.claims_table import claims_table
from hbench.reports.cli import main
from hbench.reports.run import load_run
from hbench.reports.summary import summary_text
from hbench.reports.table import LONG_TABLE_ROWS, Table, column_chunks, to_html


def _comparison(exact=None, diffs=None, speed=(2.0, 1.5, 2.5)) -> verdict.Comparison:
    sp = None if speed is None else data.Estimate(*speed)
    diffs = {k: data.Estimate(*v) for k, v in (diffs or {}).items()}
    return verdict.Comparison("s", "v", "baseline", sp, exact, diffs)


@pytest.mark.parametrize(
    ("exact", "diffs", "speed", "word"),
    [
        (verdict.ExactSummary(24, 24, 0.86, 1.0), None, (1.4, 1.2, 1.6), "lossless"),
        (verdict.ExactSummary(23, 24, 0.8, 0.99), None, (1.4, 1.2, 1.6), "lossy"),
        (verdict.ExactSummary(24, 24, 0.86, 1.0), None, (0.9, 0.8, 1.05), "unresolved"),
        (verdict.ExactSummary(24, 24, 0.86, 1.0), None, (0.8, 0.7, 0.9), "slower"),
        (None, {"correct": (0.0, -0.005, 0.01)}, (15, 14, 16), "non-inferior"),
        (None, {"correct": (0.0, -0.18, 0.15)}, (15, 14, 16), "unresolved"),
        (None, {"correct": (-0.27, -0.45, -0.09)}, (75, 74, 76), "lossy"),
        (None, {"O": (1.6, 0.4, 3.1), "PQ": (-0.7, -1.0, -0.4)}, (9, 8, 10), "lossy"),
        (None, {"unjudged": (0.1, -5.0, 5.0)}, (9, 8, 10), "unresolved"),
    ],
)
def test_verdict_word(exact, diffs, speed, word) -> None:
    c = _comparison(exact, diffs, speed)
    assert verdict.verdict_word(c, verdict.DEFAULT_MARGINS) == word


def test_verdict_rows_use_the_shared_comparison_numbers(demo_run: Path) -> None:
    run = load_run(demo_run)
    table = verdict.verdict_table([run])
    assert table.columns[:3] == ("Verdict", "Variant", "Suite")
    rows = {(r[1], r[2]): r for r in table.rows}
    # bounds and the reference get no row; latency (no quality metric) is the speed table's
    assert set(rows) == {("nfe6", "geneval"), ("nfe6", "gedit"), ("nfe1", "geneval"),
                         ("nfe1", "gedit"), ("spec", "understanding")}  # fmt: skip
    spec = rows[("spec", "understanding")]
    assert spec[3].startswith("exact 7/8 ")  # the fixture plants one divergent sample
    assert spec[0] == "lossy"
    sp = data.speedup(run, "geneval", "nfe6")
    assert rows[("nfe6", "geneval")][4] == f"{sp.value:.2f}× [{sp.low:.2f}, {sp.high:.2f}]"
    # fixture: the baseline batches its two CFG rows (100 NFE in 50 calls)
    assert rows[("nfe6", "geneval")][5] == f"NFE 100 → 6 ({100 / 6:.1f}×); calls 50 → 6"
    d = data.metric_diff(run, "geneval", "nfe6", "correct")
    assert f"Δcorrect {d.value:+.2f} [{d.low:+.2f}, {d.high:+.2f}]" in rows[("nfe6", "geneval")][3]


def test_claims_give_margins_and_the_table_matches_the_gate(demo_run: Path, tmp_path) -> None:
    text = (
        "claims:\n"
        "  - {suite: geneval, variant: nfe6, check: diff_ci_low, metric: correct, op: '>=',"
        " value: -0.5}\n"
        "  - {suite: geneval, variant: nfe6, check: speedup, op: '>=', value: 1000}\n"
        "  - {suite: understanding, variant: spec, check: exact_match, op: '==', value: 1}\n"
    )
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    claims = parse_claims(text, str(path))
    assert verdict.margins_from_claims(claims) == {"geneval/correct": 0.5}
    run = load_run(demo_run)
    table = claims_table([run], claims)
    gate = check_claims(claims, demo_run)
    assert (
        [r[0] for r in table.rows] == [g.status.upper() for g in gate] == ["PASS", "FAIL", "FAIL"]
    )
    for row, g in zip(table.rows, gate, strict=True):  # the gate's measured text and message
        assert row[3] == g.measurement.measured_text() + (f" ({g.message})" if g.message else "")
        assert row[4] == f"{g.measurement.estimate:.4g}" and row[1] == g.claim.label
    assert table.title.endswith("1/3 hold")
    # the margin from the claims file decides geneval/nfe6 (wide interval, loose margin)
    rows = {
        (r[1], r[2]): r
        for r in verdict.verdict_table([run], verdict.margins_from_claims(claims)).rows
    }
    assert "non-inferior" in rows[("nfe6", "geneval")][3]
    # and the CLI: the table in the page, the verdict and claims first in the terminal
    out = tmp_path / "rep"
    assert main([str(demo_run), "--out", str(out), "--claims", str(path)]) == 0
    html = (out / "index.html").read_text()
    assert html.index('id="sec-verdict"') < html.index('id="claims"') < html.index('id="sec-runs"')
    summary = summary_text(demo_run, claims=path)
    assert (
        summary.index("Verdict")
        < summary.index("Claims (claims.yaml)")
        < summary.index("hbench run")
    )


def test_bad_claims_file_is_one_line_error(demo_run: Path, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims:\n  - {suite: geneval}\n")
    assert main([str(demo_run), "--out", str(tmp_path / "o"), "--claims", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and len(err.strip().splitlines()) == 1


def test_two_runs_give_before_after_deltas(demo_run: Path, tmp_path) -> None:
    new = write_run(tmp_path / "new", seed=7)
    old_run, new_run = load_run(demo_run), load_run(new)
    table = compare.delta_table([old_run, new_run])
    rows = {(r[0], r[1]): r for r in table.rows}
    a = data.variant_view(old_run, "geneval", "nfe6").score.value
    b = data.variant_view(new_run, "geneval", "nfe6").score.value
    assert rows[("geneval", "nfe6")][2] == f"{a:.3f} → {b:.3f} ({b - a:+.3f})"
    sa, sb = (data.speedup(r, "geneval", "nfe6") for r in (old_run, new_run))
    assert (
        rows[("geneval", "nfe6")][3]
        == f"{sa.value:.3g} → {sb.value:.3g} ({sb.value / sa.value:.2f}×)"
    )
    assert rows[("geneval", "baseline")][3] == "–"  # the reference has no speedup
    assert main([str(demo_run), str(new)]) == 0
    html = (new / "report-vs-demo" / "index.html").read_text()
    assert 'id="deltas"' in html
    with pytest.raises(Exception, match="exactly two"):
        compare.delta_table([old_run])


def test_wide_tables_split_and_long_tables_fold() -> None:
    cols = ("Group", "n") + tuple(f"Δ variant{i} [95% CI]" for i in range(9))
    row = ("background_change", "4") + ("+1.625 [+0.413, +3.119]",) * 9
    wide = Table("wide", "Wide", cols, (row,) * 3)
    chunks = column_chunks(wide)
    assert len(chunks) > 1 and all(c[0] == 0 for c in chunks)  # the label column repeats
    assert sorted({i for c in chunks for i in c}) == list(range(len(cols)))
    html = to_html(wide)
    assert html.count("<table>") == len(chunks)
    assert "background_<wbr>change" in html
    assert "[+0.413,\u00a0+3.119]" in html  # the interval stays on one line
    narrow = Table("narrow", "Narrow", ("a", "b"), (("x", "1"),) * (LONG_TABLE_ROWS + 1))
    assert len(column_chunks(narrow)) == 1
    assert "<details>" in to_html(narrow)
    assert "<details>" not in to_html(Table("short", "Short", ("a",), (("x",),)))

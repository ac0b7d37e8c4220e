"""Reading run directories (clear errors on bad input), the table model, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_run

from hbench.reports.cli import main
from hbench.reports.grids import grid_rows, image_grid
from hbench.reports.run import NoData, RunStoreError, load_run
from hbench.reports.table import (
    Table,
    escape_latex,
    escape_markdown,
    to_html,
    to_latex,
    to_markdown,
)


def test_invalid_json_names_file_and_line(fresh_run: Path) -> None:
    path = fresh_run / "records.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunStoreError, match=r"records\.jsonl:3: corrupt record: invalid JSON"):
        load_run(fresh_run)


def test_missing_field_names_the_field(fresh_run: Path) -> None:
    path = fresh_run / "records.rank1.jsonl"
    path.write_text(json.dumps({"key": "x", "suite": "geneval", "sample": "1"}) + "\n")
    with pytest.raises(RunStoreError, match=r"records\.rank1\.jsonl:1: field 'variant' missing"):
        load_run(fresh_run)


def test_rank_files_merge_and_conflicting_duplicates_fail(fresh_run: Path) -> None:
    first = (fresh_run / "records.jsonl").read_text().splitlines()[0]
    (fresh_run / "records.rank0.jsonl").write_text(first + "\n")  # identical copy: merged once
    run = load_run(fresh_run)
    assert len({r["key"] for r in run.records}) == len(run.records)
    changed = json.loads(first)
    changed["metrics"]["correct"] = 1.0 - changed["metrics"]["correct"]
    (fresh_run / "records.rank0.jsonl").write_text(json.dumps(changed) + "\n")
    with pytest.raises(RunStoreError, match="also at .*records.jsonl:1 with different content"):
        load_run(fresh_run)


def test_torn_last_line_is_skipped_and_reported(fresh_run: Path) -> None:
    path = fresh_run / "records.jsonl"
    before = len(load_run(fresh_run).records)
    path.write_text(path.read_text() + '{"key": "geneval/9')
    run = load_run(fresh_run)
    assert len(run.records) == before
    assert any("incomplete last line" in p for p in run.problems)


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunStoreError, match="not a run directory"):
        load_run(tmp_path / "nope")
    with pytest.raises(RunStoreError, match="not a run directory"):
        load_run(tmp_path)


def test_image_paths_cannot_leave_the_run(fresh_run: Path, tmp_path: Path) -> None:
    run = load_run(fresh_run)
    with pytest.raises(RunStoreError, match="outside the run directory"):
        run.file("../secret.png")
    # a record pointing outside shows as missing in the grid, nothing is read
    path = fresh_run / "records.jsonl"
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    for r in recs:
        if r["suite"] == "geneval" and r["variant"] == "nfe6":
            r["output"]["image"] = "../../../../etc/hostname"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    columns, rows = grid_rows([load_run(fresh_run)], "geneval", limit=1)
    assert columns == ["baseline", "nfe6", "nfe1"]
    from hbench.reports.grids import _load

    assert _load(rows[0].run, rows[0].images["nfe6"]) is None
    assert _load(rows[0].run, rows[0].images["baseline"]).shape == (32, 32, 3)


def test_grid_without_images_is_no_data(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", suites=("understanding",))
    with pytest.raises(NoData, match="no geneval image"):
        image_grid([run], tmp_path / "out", "geneval")


def test_table_model_escapes_for_every_format() -> None:
    nasty = 'a|b <i>x</i> & "q" $5 #1 _u ^ ~ % {c} \\ *e*'
    t = Table("t1", "T", ("Name", "Value"), ((nasty, "1.000"),))
    md = to_markdown(t)
    assert "a\\|b &lt;i&gt;x&lt;/i&gt; &amp;" in md and "\\*e\\*" in md
    html = to_html(t)
    assert "<i>" not in html and "&lt;i&gt;" in html and "&quot;q&quot;" in html
    latex = to_latex(t)
    assert escape_latex(nasty) in latex
    assert escape_latex("$5 #1 _u % {c} \\") == r"\$5 \#1 \_u \% \{c\} \textbackslash{}"
    assert escape_markdown("# title", block=True) == "\\# title"
    with pytest.raises(ValueError, match="row 0 has 1 cells, expected 2"):
        Table("t2", "T", ("a", "b"), (("x",),))
    with pytest.raises(ValueError, match="must match"):
        Table("Bad Key", "T", ("a",), ())


def test_cli_reports_a_partial_run_and_fails_clearly(tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path / "only-text", suites=("understanding",), with_scores=False)
    out = tmp_path / "out"
    assert main([str(run), "--out", str(out), "--summary"]) == 0
    printed = capsys.readouterr().out
    assert "understanding" in printed and "scores.json absent" in printed
    assert f"report written: {out / 'index.html'}" in printed
    # what exists is rendered, what is absent is said
    # (no speedup figure: comparisons exist only in scores.json, which this run lacks)
    assert {p.stem for p in (out / "figures").glob("*.pdf")} == {"latency", "acceptance"}
    html = (out / "index.html").read_text()
    assert "geneval" not in html.split("<h2")[-1]  # grouped-suite sections only for suites present
    assert "no variant has both an NFE count and a quality score" in html
    assert "scores.json absent: scores computed from records" in html
    assert "## geneval" not in (out / "summary.md").read_text()  # no section for absent suites
    # bad input: exit code 2 and a message naming the problem
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o2")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(run), str(run), str(run)])  # more than two runs need --out
    # two runs: before -> after, written beside the newer run
    assert main([str(run), str(run)]) == 0
    assert (run / "report-vs-only-text" / "index.html").is_file()

"""Every report table says whether its numbers are comparable with the published ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import write_run

from hbench.reports import tables, tables_quality
from hbench.reports.comparability import comparability_note, comparable_cell
from hbench.reports.run import load_run, load_runs


def _with_cards(tmp_path: Path) -> Path:
    run = write_run(tmp_path / "demo", suites=("geneval", "understanding"), seed=3)
    scores = json.loads((run / "scores.json").read_text())
    scores["suites"]["geneval"]["protocol"] = {
        "protocol": "official", "comparable": False, "follows": [],
        "why": "transformers Mask2Former: equivalence to mmdet not measured",
    }  # fmt: skip
    scores["suites"]["understanding"]["protocol"] = {
        "protocol": "official", "comparable": True, "why": "BAGEL's eval/vlm MME", "follows": [],
    }  # fmt: skip
    (run / "scores.json").write_text(json.dumps(scores))
    return run


def test_summary_column_and_notes_come_from_the_protocol_card(tmp_path: Path) -> None:
    runs = load_runs([_with_cards(tmp_path)])
    summary = tables.summary_table(runs)
    assert summary.columns[-1] == "Comparable to published"
    cells = {row[0]: row[-1] for row in summary.rows}
    assert cells == {"geneval": "no", "understanding": "yes"}
    note = summary.notes[-1]
    assert note.startswith("Comparable to the published figures?")
    assert "geneval [official]: not comparable: transformers Mask2Former" in note
    assert "understanding [official]: comparable" in note
    (geneval,) = tables_quality.suite_group_tables(runs, "geneval")
    assert "equivalence to mmdet not measured" in geneval.notes[-1]
    assert "understanding" not in geneval.notes[-1]  # the note is about this table's suite


def test_suites_without_a_card_are_not_claimed_comparable(tmp_path: Path) -> None:
    run = write_run(tmp_path / "demo", suites=("geneval",), seed=4)
    loaded = load_run(run)
    assert comparable_cell(loaded, "geneval") == "–"
    assert "geneval: no protocol recorded, not claimed comparable" in comparability_note([loaded])


def test_every_table_of_a_run_prints_the_comparability(tmp_path: Path) -> None:
    run = _with_cards(tmp_path)
    shutil.rmtree(run / "artifacts", ignore_errors=True)
    runs = load_runs([run])
    for build in (tables.summary_table, tables.speedup_table, tables.latency_table,
                  lambda rs: tables_quality.suite_group_tables(rs, "geneval")[0],
                  tables_quality.exact_match_table,
                  tables_quality.divergence_table):  # fmt: skip
        table = build(runs)
        assert any(n.startswith("Comparable to the published figures?") for n in table.notes), (
            table.key
        )

"""Reports never key on a suite's configured name: GenEval configured as ``gen`` renders the
same tables as GenEval configured as ``geneval`` (a real shapes run with both instances)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hbench.reports import tables, tables_quality
from hbench.reports.run import load_run

CONFIG = """\
seed: 0
threads: 1
system:
  family: shapes
  reference: baseline
  variants: [oracle, baseline, nfe1]
suites:
  geneval: {prompts: shapes, prompts_per_tag: 1, samples_per_prompt: 1}
  gen: {suite: geneval, prompts: shapes, prompts_per_tag: 1, samples_per_prompt: 1}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("names")
    (root / "c.yaml").write_text(CONFIG)
    out = root / "run"
    proc = subprocess.run([sys.executable, "-m", "hbench", "run", str(root / "c.yaml"), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_a_geneval_suite_under_another_name_renders_the_same_tables(run: Path) -> None:
    loaded = load_run(run)
    assert tables_quality.grouped_suites([loaded]) == ["gen", "geneval"]
    (gen,) = tables_quality.suite_group_tables([loaded], "gen")
    (geneval,) = tables_quality.suite_group_tables([loaded], "geneval")
    assert gen.columns == geneval.columns and gen.rows == geneval.rows  # same seeds, same images
    assert len(gen.rows) == 6 + 2  # six tags, overall, all samples (paired)
    # Both get the same summary rows (score named "overall") and speedup rows (nfe1 only).
    summary = {r[0]: [] for r in tables.summary_table([loaded]).rows}
    for r in tables.summary_table([loaded]).rows:
        summary[r[0]].append((r[1], r[4]))
    assert summary["gen"] == summary["geneval"] and "(overall)" in summary["gen"][0][1]
    speed = [(r[0], r[1]) for r in tables.speedup_table([loaded]).rows]
    assert speed == [("gen", "nfe1"), ("geneval", "nfe1")]  # the oracle is a bound: no row

"""The plan printed before a run: samples per suite and variant, and the estimate's wording."""

from __future__ import annotations

from hbench.harness.estimate import LONG_RUN_SECONDS, Plan, PlanRow


def _plan(seconds: float, total: int = 100, done: int = 0, calibrated: int = 2) -> Plan:
    rows = (
        PlanRow("geneval", "baseline", total, done, seconds, calibrated),
        PlanRow("geneval", "nfe6", total, done, seconds / 10, calibrated),
    )
    return Plan(rows, timed=2 * calibrated, calibration_seconds=1.0)


def test_estimate_counts_only_samples_still_to_run():
    plan = _plan(0.5, total=100, done=40, calibrated=2)
    assert plan.rows[0].remaining == 58
    assert plan.estimate == 58 * 0.5 + 58 * 0.05
    assert plan.resume_line() == "resuming: 80 of 200 samples done"
    text = plan.text()
    assert "estimated time: 32 s for 116 of 200 samples" in text
    assert "warning" not in text


def test_hours_long_config_says_so():
    plan = _plan(LONG_RUN_SECONDS / 50)
    assert plan.estimate >= LONG_RUN_SECONDS
    last = plan.text().splitlines()[-1]
    assert last.startswith("warning: this config runs for more than an hour (")
    assert "--limit N" in last and "--dry-run" in last


def test_untimed_rows_are_named_not_guessed():
    plan = Plan((PlanRow("vqa", "spec", 10, 0, None, 0),), timed=2)
    assert plan.unmeasured == plan.rows
    assert "not timed (every calibration sample failed): vqa/spec" in plan.text()

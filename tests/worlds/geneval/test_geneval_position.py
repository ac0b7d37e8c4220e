"""GenEval's relative-position rule is written once, below its two users."""

from __future__ import annotations

import doctest

import hbench.worlds.geneval.position as position
from hbench.baselines.shapes.training.generator import monitor
from hbench.tasks.geneval import rules


def test_doctests_pass() -> None:
    result = doctest.testmod(position)
    assert result.attempted >= 2 and result.failed == 0


def test_suite_and_monitor_use_the_one_rule() -> None:
    assert rules.relative_position is position.relative_position
    assert monitor.relative_position is position.relative_position


def test_threshold_shrinks_the_offset() -> None:
    # centres 8 px apart, sizes 10 + 10: 0.1 shrinks the offset to 6, 0.5 removes it
    assert position.relative_position((0, 0, 10, 10), (8, 0, 18, 10)) == {"left of"}
    assert position.relative_position((0, 0, 10, 10), (8, 0, 18, 10), 0.5) == set()
    assert position.relative_position((0, 20, 10, 30), (0, 0, 10, 10)) == {"below"}

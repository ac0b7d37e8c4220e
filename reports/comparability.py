"""Whether a suite's numbers are comparable with the published ones, as scores.json says.

Suites write a protocol card into their ``scores.json`` block (``protocol``: the profile,
``comparable``, ``why``); every report table prints it, as a column or a note, so a number
measured under hbench's own rules is never read as the paper's.
"""

from __future__ import annotations

from typing import Any

from . import data
from .run import Run

NO_CARD = "–"


def card(run: Run, suite: str) -> dict[str, Any] | None:
    """The suite's protocol card from scores.json (None when the suite records none)."""
    value = data.suite_block(run, suite).get("protocol")
    return value if isinstance(value, dict) and "comparable" in value else None


def comparable_cell(run: Run, suite: str) -> str:
    """``yes`` / ``no`` / ``–`` (no protocol recorded: no published counterpart claimed)."""
    c = card(run, suite)
    if c is None:
        return NO_CARD
    return "yes" if c.get("comparable") is True else "no"


def comparability_note(runs: list[Run], suites: list[str] | None = None) -> str:
    """One sentence per (run, suite): profile, comparable or not, and why."""
    parts = []
    for run in runs:
        for suite in suites if suites is not None else run.suites():
            if suite not in run.suites():
                continue
            c = card(run, suite)
            who = f"{suite} ({run.label})" if len(runs) > 1 else suite
            if c is None:
                parts.append(f"{who}: no protocol recorded, not claimed comparable")
                continue
            verdict = "comparable" if c.get("comparable") is True else "not comparable"
            parts.append(f"{who} [{c.get('protocol', '?')}]: {verdict}: {c.get('why', '')}")
    return "Comparable to the published figures? " + "; ".join(parts) + "."

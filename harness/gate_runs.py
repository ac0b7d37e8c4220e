"""What the gate reads: the records and scores of one or more finished run directories.

Several runs can be gated together when each suite lives in one of them (a BAGEL study
runs GenEval, GEdit, understanding and latency as separate runs); every suite keeps the
reference variant of its own run.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .claims import Claim
from .comparisons import record_field
from .runs import load_run
from .store import RunStoreError


class ClaimError(ValueError):
    """A claim that cannot be evaluated on this run (names the claim's file:line)."""


def unknown_name(claim: Claim, what: str, name: Any, available: set[Any]) -> ClaimError:
    """A did-you-mean error for a name the run does not have, at the claim's location."""
    names = sorted(str(a) for a in available if a is not None)
    close = difflib.get_close_matches(str(name), names, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ClaimError(
        f"{claim.location}: unknown {what} {name!r} in suite {claim.suite!r} of this run.{hint} "
        f"Available: {', '.join(names) or 'none'}"
    )


class RunView:
    """Read-only view of the records and scores of one or more run directories."""

    def __init__(self, run_dirs: str | Path | Sequence[str | Path]) -> None:
        dirs = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
        self.records: list[dict[str, Any]] = []
        self.suite_scores: dict[str, dict[str, Any]] = {}
        self.suite_reference: dict[str, str | None] = {}
        self.suite_run: dict[str, Path] = {}
        for raw in dirs:
            self._add(Path(raw))
        if not self.records:
            raise RunStoreError(f"{', '.join(map(str, dirs))}: no records*.jsonl with records")

    def _add(self, run: Path) -> None:
        loaded = load_run(run)
        records, scores = list(loaded.records), loaded.scores
        reference = loaded.reference
        for suite in sorted({r.get("suite") for r in records}):
            if suite in self.suite_run:
                raise RunStoreError(
                    f"suite {suite!r} is in both {self.suite_run[suite]} and {run}; gate them separately"
                )
            self.suite_run[suite] = run
            self.suite_reference[suite] = reference
        self.records.extend(records)
        for suite, block in scores.get("suites", {}).items():
            self.suite_scores.setdefault(suite, block)

    def select(self, claim: Claim, variant: str) -> tuple[list[dict[str, Any]], int]:
        """(non-errored records, errored count) of ``variant`` under the claim's filters."""
        suite_recs = [r for r in self.records if r.get("suite") == claim.suite]
        if not suite_recs:
            raise unknown_name(claim, "suite", claim.suite, {r.get("suite") for r in self.records})
        recs = [r for r in suite_recs if r.get("variant") == variant]
        if not recs:
            raise unknown_name(claim, "variant", variant, {r.get("variant") for r in suite_recs})
        for key, value in claim.where:
            seen = {str(record_field(r, key)) for r in recs if record_field(r, key) is not None}
            if value not in seen:
                raise unknown_name(claim, f"{key} value", value, seen)
            recs = [r for r in recs if str(record_field(r, key)) == value]
        ok = [r for r in recs if not r.get("error")]
        return ok, len(recs) - len(ok)

    def reference(self, claim: Claim) -> str:
        """The claim's reference variant: explicit, else the reference of the suite's run."""
        ref = claim.reference or self.suite_reference.get(claim.suite)
        if not ref:
            raise ClaimError(f"{claim.location}: no reference variant in the run; set 'reference'")
        return ref

    def scores_of(self, claim: Claim) -> dict[str, Any]:
        """The suite's block of its run's scores.json."""
        if claim.suite not in self.suite_scores:
            raise unknown_name(claim, "suite in scores.json", claim.suite, set(self.suite_scores))
        return self.suite_scores[claim.suite]

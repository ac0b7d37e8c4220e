"""``hbench report RUN --claims FILE``: the claims table, decided by ``hbench gate``'s code.

The report does not re-implement any check: it calls :func:`hbench.harness.gate.check_claims`
on the run directory and prints each result with the gate's own columns and wording
(status, claim, required, measured, estimate, interval, n, where).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .run import Run, RunStoreError
from .table import Table

if TYPE_CHECKING:
    from hbench.harness.claims import ClaimsFile

COLUMNS = ("Status", "Claim", "Required", "Measured", "Estimate", "Interval", "n", "Where")


def load(path: str | Path) -> ClaimsFile:
    """Parse a claims file; a bad file is a :class:`RunStoreError` naming its line."""
    # imported here: the gate's modules pull in the plugin registry, which a report without
    # claims never needs (reports import no task or baseline code)
    from hbench.harness.claims import ClaimsError, load_claims

    try:
        return load_claims(path)
    except (ClaimsError, OSError) as err:
        raise RunStoreError(f"{path}: {err}") from err


def claims_table(runs: list[Run], claims: ClaimsFile) -> Table:
    """One row per claim and run, as ``hbench gate`` decides and words it."""
    from hbench.harness.gate import check_claims

    several = len(runs) > 1
    rows = []
    for run in runs:
        for r in check_claims(claims, run.path):
            c, m = r.claim, r.measurement
            required = f"{c.op} {c.value:g}"
            if m is None:
                cells = (r.status.upper(), c.label, required, r.message, "", "", "", c.location)
            else:
                measured = m.measured_text() + (f" ({r.message})" if r.message else "")
                interval = f"{m.interval} [{m.low:.4g}, {m.high:.4g}]" if m.low is not None else ""
                cells = (r.status.upper(), c.label, required, measured, f"{m.estimate:.4g}",
                         interval, str(m.n), c.location)  # fmt: skip
            rows.append(cells[:1] + ((run.label,) if several else ()) + cells[1:])
    columns = COLUMNS[:1] + (("Run",) if several else ()) + COLUMNS[1:]
    passed = sum(row[0] == "PASS" for row in rows)
    title = f"Claims ({Path(claims.source).name}): {passed}/{len(rows)} hold"
    align = ("l",) * (len(columns) - 5) + ("r", "r", "l", "r", "l")
    notes = (
        "Decided by hbench gate's checks on the same run store (same numbers, intervals and "
        "wording as `hbench gate RUN --claims FILE`).",
    )
    return Table("claims", title, columns, tuple(rows), align, notes)

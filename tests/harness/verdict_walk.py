"""Walk every comparison the report and ``hbench gate`` both show on a run (used by tests)."""

from __future__ import annotations

from pathlib import Path

from hbench.harness import comparisons as cmp
from hbench.harness.claims import Claim, ClaimsFile
from hbench.harness.gate import evaluate
from hbench.harness.gate_runs import RunView
from hbench.reports import data
from hbench.reports.run import load_run

# Entry quantities the gate has a check for, and the check's name.
CHECK_OF = {"diff": "diff", "speedup": "speedup", "exact_match": "exact_match"}


def _claim(suite: str, variant: str, e: dict, meta: cmp.SuiteMeta) -> Claim:
    where: tuple[tuple[str, str], ...] = ()
    group_by = None
    if e["scope"] == "overall":
        group_by = meta.group_field
    elif e["scope"] != "all":
        field, _, value = e["scope"].partition("=")
        where = ((field, value),)
    return Claim(suite, variant, CHECK_OF[e["quantity"]], ">=", -1e9, metric=e["metric"],
                 where=where, group_by=group_by)  # fmt: skip


def _report_estimate(run, suite: str, variant: str, e: dict) -> data.Estimate | None:
    """The figure the report's renderers print for this entry (through reports.data)."""
    group = None if e["scope"] in ("all", "overall") else e["scope"].partition("=")[2]
    if e["quantity"] == "diff":
        return data.metric_diff(run, suite, variant, e["metric"], group, e["scope"] == "all")
    if e["quantity"] == "speedup":
        return data.speedup(run, suite, variant, group)
    from hbench.reports import text

    em = text.exact_match(run, suite, variant, group)
    return None if em is None else data.Estimate(em.matches / em.n, em.low, em.high, em.n)


def walk(run_dir: Path) -> list[tuple[str, float, float]]:
    """(label, largest |report - gate| over estimate and bounds, 0) per shared comparison.

    Raises AssertionError when the gate cannot evaluate a comparison the report shows."""
    run = load_run(run_dir)
    view = RunView(run_dir)
    cfg = ClaimsFile(claims=())
    out = []
    for suite in run.suites():
        meta = data.meta(run, suite)
        for variant in data.compared_variants(run, suite):
            for e in data.comparison_block(run, suite, variant).get("estimates") or []:
                if e["quantity"] not in CHECK_OF:
                    continue
                if e["quantity"] == "diff" and e["metric"] in ("shapes-edges", "shapes-palette"):
                    continue  # post-pass metrics: the gate reads records, which lack them
                shown = _report_estimate(run, suite, variant, e)
                assert shown is not None, (suite, variant, e["id"])
                result = evaluate(_claim(suite, variant, e, meta), view, cfg)
                assert result.status == "pass", (suite, variant, e["id"], result.line())
                m = result.measurement
                gap = max(
                    abs(shown.value - m.estimate),
                    abs((shown.low or 0) - (m.low or 0)),
                    abs((shown.high or 0) - (m.high or 0)),
                )
                out.append((f"{suite}/{variant} {e['id']}", gap, shown.value))
    return out

"""Regressions of a run against a previous run (``hbench gate NEW --against OLD``).

Samples are paired by (suite, variant, sample, seed) where both runs hold them (the one
pairer, :func:`hbench.harness.comparisons.paired`, with OLD in the reference's place), and
every figure is compared with the comparison engine's functions:

* quality: every per-sample quality metric, mean paired difference NEW - OLD with a 95%
  bootstrap interval; a regression when the whole interval lies beyond ``-quality`` on the
  metric's worse side (a lower score for higher-is-better metrics);
* speed: each candidate's speedup against its own run's reference (median of paired,
  interleaved ratios, the engine's entry), NEW against OLD; a regression when NEW's upper
  bound is below OLD's lower bound divided by ``1 + time``. Speedups, not seconds: on a shared
  machine the load changes every absolute time between two runs (measured: the same code ran
  2.5-3.5x slower in a second demo run an hour later), while interleaved ratios within a run
  cancel it. Work that changes shows in the cost counters, which need no clock;
* cost: the deterministic counters (NFE, merged calls, target / draft forwards, FLOPs) and
  tau; a regression when NEW's mean exceeds OLD's by more than ``cost`` (tau: falls below).

The front end (printing, JUnit, Markdown, exit status) is :mod:`hbench.gate_against_cli`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import comparisons as cmp
from .runs import Run

DEFAULT_TOLERANCE = {"quality": 0.0, "time": 0.2, "cost": 0.0}


@dataclass(frozen=True)
class Finding:
    """One compared figure of one (suite, variant): ``status`` is "pass" or "fail"."""

    suite: str
    variant: str
    kind: str  # quality | speed | cost
    name: str
    old: float
    new: float
    estimate: float
    low: float | None
    high: float | None
    n: int
    rule: str
    status: str

    @property
    def label(self) -> str:
        """``suite/variant kind name``."""
        return f"{self.suite}/{self.variant} {self.kind} {self.name}"

    def line(self) -> str:
        """Verdict, figure, both values and the interval."""
        head = "REGRESSION" if self.status == "fail" else "ok"
        ci = "" if self.low is None else f" [{self.low:.4g}, {self.high:.4g}]"
        return (
            f"{head:10s} {self.label}: old {self.old:.4g} -> new {self.new:.4g} "
            f"({self.rule}: {self.estimate:.4g}{ci}, n={self.n})"
        )


def parse_tolerance(text: str | None) -> dict[str, float]:
    """``quality=0,time=0.2,cost=0`` (any subset) over the defaults.

    Raises:
        ValueError: an unknown key or a value that is not a number >= 0.
    """
    out = dict(DEFAULT_TOLERANCE)
    for part in filter(None, (text or "").split(",")):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in out:
            raise ValueError(
                f"--tolerance: expected KEY=VALUE with KEY in {', '.join(out)}, got {part!r}"
            )
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not number >= 0:
            raise ValueError(f"--tolerance: {key} must be a number >= 0, got {value!r}")
        out[key.strip()] = number
    return out


def _mean(records: list[dict], name: str) -> float | None:
    vals = [cmp.counter(r, name) for r in records]
    if name == "tau":
        vals = [cmp.number((r.get("cost") or {}).get("tau")) for r in records]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def compare_runs(new: Run, old: Run, tolerance: dict[str, float]) -> list[Finding]:
    """Every figure of every (suite, variant) both runs hold, NEW against OLD."""
    settings = cmp.Settings()
    out: list[Finding] = []
    for suite in sorted(set(new.suites()) & set(old.suites())):
        meta = cmp.SuiteMeta.from_dict(((new.suite_scores().get(suite)) or {}).get("declared"))
        for variant in [v for v in new.variants(suite) if v in old.variants(suite)]:
            o_all, n_all = cmp.paired(
                old.ok_records(suite, variant), new.ok_records(suite, variant)
            )
            if not o_all:
                continue
            for scope, idx, _ in cmp.scopes(o_all, meta):
                if scope == "overall":
                    continue
                o, n = [o_all[i] for i in idx], [n_all[i] for i in idx]
                where = "" if scope == "all" else f"[{scope}]"
                out += _quality(suite, variant, where, o, n, meta, tolerance, settings)
                if new.role(variant) == cmp.CANDIDATE and old.role(variant) == cmp.CANDIDATE:
                    o_ref = _in_scope(old.ok_records(suite, old.reference), meta, scope)
                    n_ref = _in_scope(new.ok_records(suite, new.reference), meta, scope)
                    out += _speed(suite, variant, where, o_ref, o, n_ref, n, tolerance, settings)
                out += _cost(suite, variant, where, o, n, tolerance)
    return out


def _in_scope(records: list[dict], meta: cmp.SuiteMeta, scope: str) -> list[dict]:
    if scope == "all":
        return records
    field, _, value = scope.partition("=")
    return [r for r in records if cmp.group_label(r, field) == value]


def _quality(suite, variant, where, o, n, meta, tolerance, settings) -> list[Finding]:
    found = []
    for metric in cmp.quality_metrics(o + n):
        d = cmp.diff(o, n, metric, "all", None, settings)
        if d is None:
            continue
        if meta.direction(metric) == "higher":
            worse = d["ci_high"] < -tolerance["quality"]
        else:
            worse = d["ci_low"] > tolerance["quality"]
        old_mean = sum(r["metrics"][metric] for r in o if metric in r["metrics"]) / d["n"]
        found.append(Finding(suite, variant, "quality", metric + where, old_mean,
                             old_mean + d["estimate"], d["estimate"], d["ci_low"], d["ci_high"],
                             d["n"], "mean paired Δ new-old", "fail" if worse else "pass"))  # fmt: skip
    return found


def _speed(suite, variant, where, o_ref, o, n_ref, n, tolerance, settings) -> list[Finding]:
    """The candidate's within-run speedup, NEW against OLD (reference records of each run)."""
    old = cmp.speedup(*cmp.paired(o_ref, o), "all", settings)
    new = cmp.speedup(*cmp.paired(n_ref, n), "all", settings)
    if old is None or new is None:
        return []
    slower = new["ci_high"] < old["ci_low"] / (1.0 + tolerance["time"])
    return [Finding(suite, variant, "speed", "speedup vs reference" + where, old["estimate"],
                    new["estimate"], new["estimate"], new["ci_low"], new["ci_high"], new["n"],
                    f"new speedup (old [{old['ci_low']:.4g}, {old['ci_high']:.4g}])",
                    "fail" if slower else "pass")]  # fmt: skip


def _cost(suite, variant, where, o, n, tolerance) -> list[Finding]:
    found = []
    for name in (*cmp.COUNTERS, "tau"):
        a, b = _mean(o, name), _mean(n, name)
        if a is None or b is None:
            continue
        ratio = b / a if a else (1.0 if b == a else float("inf"))
        tol = tolerance["cost"]
        worse = ratio < 1.0 - tol if name == "tau" else ratio > 1.0 + tol
        found.append(Finding(suite, variant, "cost", name + where, a, b, ratio, None, None, len(o),
                             "new/old mean", "fail" if worse else "pass"))  # fmt: skip
    return found

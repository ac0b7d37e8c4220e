"""``hbench gate RUN [RUN ...] --claims CLAIMS``: check claims against finished run stores.

Every number is computed from the run store (``records.jsonl``, ``scores.json``) with
:mod:`hbench.harness.statistics` and the claims file's confidence / resamples / seed, so
with the defaults it equals the comparison blocks of ``scores.json``. Checks (``metric``
is a per-sample metric name unless said otherwise):

============  =====================================================  ==================
check         measured value                                         interval
============  =====================================================  ==================
mean          mean of ``metric`` over the variant's samples          bootstrap
rate          share of samples with ``metric`` == 1 (0/1 metrics)    Wilson
diff          mean of (variant - reference) ``metric`` per sample;   paired bootstrap
              with ``group_by: <label>`` the unweighted mean over   (stratified)
              groups (GenEval overall over tags)
speedup       median of paired reference/variant seconds             bootstrap
exact_match   share of samples whose output ``field`` (default       Wilson
              token_ids, else text) equals the reference's
nfe           generator forward rows per sample (hook-counted);      min..max; op must
merged_calls  generator forward calls per sample                     hold for every sample
errors        errored samples of the variant                         none
score         ``scores.json`` suite score ``metric`` (dotted path)   none
score_diff    that score minus the reference's                       none
============  =====================================================  ==================

Sample labels (``workload``, ``where`` filters, ``group_by``) are read from a record's
``details``, else from its ``output`` (GEdit keeps ``task_type`` there). Interval checks
take a ``_ci_low`` / ``_ci_high`` suffix to compare the interval bound instead of the
estimate (``diff_ci_low >= -0.01`` is paired non-inferiority at margin 0.01).

Exit status: 0 all claims hold, 1 a claim fails, 2 the claims file or the run cannot be
used (unknown suite, variant or metric: the message names the claim's line; a damaged
store), 3 a run is unfinished (``--allow-partial`` gates it anyway; see gate_precheck).
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import statistics as st
from .claims import Claim, ClaimsError, ClaimsFile, load_claims
from .gate_precheck import precheck
from .gate_report import write_junit, write_summary
from .gate_runs import ClaimError, RunView, record_field, unknown_name
from .messages import print_error
from .scoring import paired
from .store import RunStoreError


@dataclass(frozen=True)
class Measurement:
    """What a check measured: estimate, interval (if any), n, and the compared values."""

    estimate: float
    low: float | None
    high: float | None
    n: int
    interval: str  # "bootstrap" | "wilson" | "range" | "none"
    compared: tuple[float, ...] = ()

    def measured_text(self) -> str:
        """The compared value(s); a per-sample range prints as ``min..max`` (or one value)."""
        vals = sorted(set(self.compared))
        if self.interval == "range" and len(vals) == 2:
            return f"{vals[0]:.4g}..{vals[1]:.4g}"
        return ", ".join(f"{v:.4g}" for v in vals)


@dataclass(frozen=True)
class ClaimResult:
    """Verdict of one claim: ``status`` is "pass", "fail" or "error"."""

    claim: Claim
    status: str
    measurement: Measurement | None = None
    message: str = ""

    def line(self) -> str:
        """One printable line: verdict, claim, measured value, interval, location."""
        c = self.claim
        head = f"{self.status.upper():5s} {c.label} {c.op} {c.value:g}"
        m = self.measurement
        if m is None:
            return f"{head}: {self.message}  [{c.location}]"
        text = f"{head}: measured {m.measured_text()}"
        if m.low is not None and m.high is not None:
            text += (
                f" (estimate {m.estimate:.4g}, {m.interval} [{m.low:.4g}, {m.high:.4g}], n={m.n})"
            )
        else:
            text += f" (n={m.n})"
        if self.message:
            text += f"; {self.message}"
        return f"{text}  [{c.location}]"


# ------------------------------------------------------------------ checks


def _metric_values(claim: Claim, records: list[dict]) -> list[float]:
    if not claim.metric:
        raise ClaimError(f"{claim.location}: check {claim.check!r} needs 'metric'")
    have = set().union(*(r.get("metrics", {}) for r in records)) if records else set()
    if claim.metric not in have:
        raise unknown_name(claim, "metric", claim.metric, have)
    missing = [r["sample"] for r in records if claim.metric not in r.get("metrics", {})]
    if missing:
        raise ClaimError(
            f"{claim.location}: metric {claim.metric!r} missing in sample {missing[0]}"
        )
    return [float(r["metrics"][claim.metric]) for r in records]


def _pairs(claim: Claim, view: RunView) -> tuple[list[dict], list[dict]]:
    ref_ok, _ = view.select(claim, view.reference(claim))
    oth_ok, _ = view.select(claim, claim.variant)
    ref, oth = paired(ref_ok, oth_ok)
    if not ref:
        raise ClaimError(
            f"{claim.location}: no paired samples of {claim.variant} and its reference"
        )
    return ref, oth


def _boot(est: float, low: float, high: float, n: int, kind: str = "bootstrap") -> Measurement:
    return Measurement(est, low, high, n, kind)


def measure_mean(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    vals = _metric_values(claim, view.select(claim, claim.variant)[0])
    r = st.mean_interval(vals, cfg.confidence, cfg.resamples, cfg.seed)
    return _boot(r.estimate, r.low, r.high, r.n)


def measure_rate(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    vals = _metric_values(claim, view.select(claim, claim.variant)[0])
    try:
        r = st.rate(vals, cfg.confidence)
    except ValueError as err:
        raise ClaimError(f"{claim.location}: rate of {claim.metric!r}: {err}") from err
    return _boot(r.estimate, r.low, r.high, r.n, "wilson")


def measure_diff(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    ref, oth = _pairs(claim, view)
    groups = None
    if claim.group_by:
        groups = [record_field(r, claim.group_by) for r in ref]
        if any(g is None for g in groups):
            raise ClaimError(
                f"{claim.location}: group_by {claim.group_by!r}: not in every record's details or output"
            )
    d = st.paired_bootstrap(
        _metric_values(claim, ref),
        _metric_values(claim, oth),
        cfg.confidence,
        cfg.resamples,
        cfg.seed,
        groups,
    )
    return _boot(d.mean_diff, d.ci_low, d.ci_high, d.n)


def measure_speedup(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    ref, oth = _pairs(claim, view)
    try:
        a = [float(r["profile"]["seconds"]) for r in ref]
        b = [float(r["profile"]["seconds"]) for r in oth]
        s = st.speedup(a, b, cfg.confidence, cfg.resamples, cfg.seed)
    except (KeyError, TypeError, ValueError) as err:
        raise ClaimError(
            f"{claim.location}: speedup needs profile.seconds > 0 in every record: {err}"
        ) from err
    return _boot(s.median, s.ci_low, s.ci_high, s.n)


def measure_exact_match(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    ref, oth = _pairs(claim, view)
    fields = [claim.field] if claim.field else ["token_ids", "text"]
    for name in fields:
        if all(name in r.get("output", {}) for r in ref + oth):
            r = st.exact_match_rate(
                [x["output"][name] for x in ref], [x["output"][name] for x in oth]
            )
            return _boot(r.estimate, r.low, r.high, r.n, "wilson")
    raise ClaimError(
        f"{claim.location}: exact_match: records have no output field {' or '.join(fields)}"
    )


def _profile_count(key: str) -> Callable[[Claim, RunView, ClaimsFile], Measurement]:
    def measure(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
        recs = view.select(claim, claim.variant)[0]
        vals = [r.get("profile", {}).get(key) for r in recs]
        if not recs or any(v is None for v in vals):
            raise ClaimError(
                f"{claim.location}: {key}: not in every record's profile "
                "(does the variant expose a generator module?)"
            )
        s = st.percentiles(vals)
        return Measurement(s.median, s.min, s.max, s.n, "range", (s.min, s.max))

    return measure


def measure_errors(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    ok, bad = view.select(claim, claim.variant)
    return Measurement(float(bad), None, None, len(ok) + bad, "none")


def _score(claim: Claim, view: RunView, variant: str) -> float:
    if not claim.metric:
        raise ClaimError(f"{claim.location}: check {claim.check!r} needs 'metric' (a score name)")
    variants = view.scores_of(claim).get("variants", {})
    if variant not in variants:
        raise unknown_name(claim, "variant in scores.json", variant, set(variants))
    node: Any = variants[variant].get("scores", {})
    for part in claim.metric.split("."):
        if not isinstance(node, dict) or part not in node:
            raise unknown_name(
                claim, "score", claim.metric, _flat_keys(variants[variant].get("scores", {}))
            )
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise ClaimError(f"{claim.location}: score {claim.metric!r} is not a number: {node!r}")
    return float(node)


def _flat_keys(node: Any, prefix: str = "") -> set[str]:
    if not isinstance(node, dict):
        return {prefix}
    out: set[str] = set()
    for k, v in node.items():
        out |= _flat_keys(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def measure_score(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    n = len(view.select(claim, claim.variant)[0])
    return Measurement(_score(claim, view, claim.variant), None, None, n, "none")


def measure_score_diff(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    n = len(view.select(claim, claim.variant)[0])
    value = _score(claim, view, claim.variant) - _score(claim, view, view.reference(claim))
    return Measurement(value, None, None, n, "none")


Measure = Callable[[Claim, RunView, ClaimsFile], Measurement]
# check -> (measure, has an interval, compares the reference variant's records too)
CHECKS: dict[str, tuple[Measure, bool, bool]] = {
    "mean": (measure_mean, True, False),
    "rate": (measure_rate, True, False),
    "diff": (measure_diff, True, True),
    "speedup": (measure_speedup, True, True),
    "exact_match": (measure_exact_match, True, True),
    "nfe": (_profile_count("nfe"), False, False),
    "merged_calls": (_profile_count("merged_calls"), False, False),
    "errors": (measure_errors, False, False),
    "score": (measure_score, False, False),
    "score_diff": (measure_score_diff, False, False),
}
BOUNDS = {"_ci_low": 0, "_ci_high": 1}


def resolve_check(claim: Claim) -> tuple[Measure, str | None, bool]:
    """(measure, bound or None, paired) for a claim's check name; ClaimError if unknown."""
    for suffix in BOUNDS:
        base = claim.check.removesuffix(suffix)
        if base != claim.check and base in CHECKS and CHECKS[base][1]:
            return CHECKS[base][0], suffix, CHECKS[base][2]
    if claim.check in CHECKS:
        return CHECKS[claim.check][0], None, CHECKS[claim.check][2]
    names = sorted([*CHECKS, *(c + s for c, v in CHECKS.items() if v[1] for s in BOUNDS)])
    close = difflib.get_close_matches(claim.check, names, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ClaimError(
        f"{claim.location}: unknown check {claim.check!r}.{hint} Available: {', '.join(names)}"
    )


def evaluate(claim: Claim, view: RunView, cfg: ClaimsFile) -> ClaimResult:
    """Measure one claim on the run and decide pass / fail (or error)."""
    try:
        measure, bound, is_paired = resolve_check(claim)
        m = measure(claim, view, cfg)
        errors = view.select(claim, claim.variant)[1]
        if is_paired:
            errors += view.select(claim, view.reference(claim))[1]
    except ClaimError as err:
        return ClaimResult(claim, "error", message=str(err).removeprefix(f"{claim.location}: "))
    if bound is not None:
        m = Measurement(
            m.estimate, m.low, m.high, m.n, m.interval, (m.high if bound == "_ci_high" else m.low,)
        )
    elif not m.compared:
        m = Measurement(m.estimate, m.low, m.high, m.n, m.interval, (m.estimate,))
    ok = all(claim.holds(v) for v in m.compared)
    message = ""
    if claim.check != "errors" and errors > cfg.max_errors:
        ok, message = False, f"{errors} errored sample(s), max_errors {cfg.max_errors}"
    return ClaimResult(claim, "pass" if ok else "fail", m, message)


def check_claims(
    claims: ClaimsFile, run_dirs: str | Path | Sequence[str | Path]
) -> list[ClaimResult]:
    """Evaluate every claim of ``claims`` on one run directory or several (one per suite)."""
    view = RunView(run_dirs)
    return [evaluate(c, view, claims) for c in claims.claims]


def exit_status(results: list[ClaimResult]) -> int:
    """0 if every claim passes, 2 if any claim could not be evaluated, else 1."""
    if any(r.status == "error" for r in results):
        return 2
    return 0 if all(r.status == "pass" for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hbench gate``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="hbench gate",
        description="Check a claims file against a finished run; exit 0 only if every claim holds.",
        epilog="example: hbench gate runs/shapes --claims claims/shapes.yaml "
        '--junit gate.xml --summary "$GITHUB_STEP_SUMMARY"',
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run directory (manifest.json, records.jsonl, scores.json); several runs may be "
        "gated together when each suite is in one of them",
    )
    parser.add_argument("--claims", required=True, help="claims YAML file")
    parser.add_argument("--junit", help="write JUnit XML here (one test case per claim)")
    parser.add_argument("--summary", help="append a Markdown table here (GitHub step summary)")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="gate an unfinished run (otherwise exit 3 naming the missing samples)",
    )
    args = parser.parse_args(argv)
    status = precheck(args.runs, args.allow_partial)  # unfinished or damaged runs first
    if status:
        return status
    try:
        claims = load_claims(args.claims)
        results = check_claims(claims, args.runs)
    except (ClaimsError, RunStoreError) as err:
        print_error(err)
        return 2
    for result in results:
        print(result.line())
    status = exit_status(results)
    passed = sum(r.status == "pass" for r in results)
    print(f"{passed}/{len(results)} claims hold ({claims.source} on {', '.join(args.runs)})")
    if args.junit:
        write_junit(results, args.junit, claims.source)
    if args.summary:
        write_summary(results, args.summary, claims.source, ", ".join(args.runs))
    return status

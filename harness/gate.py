"""Claims evaluation: check a claims file against finished run stores.

The front end ``hbench gate RUN [RUN ...] --claims CLAIMS`` (and ``--against OLD``,
:mod:`hbench.harness.gate_against`) is :mod:`hbench.gate_cli`.

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

Cost counters (deterministic, recorded per sample in ``cost``; they never flake):

================  ===================================================  ==================
target_forwards   target-model forwards per sample (text)              min..max, every
flops             FLOPs per sample (when the run counted them)         sample
tau               mean tokens per target forward of the variant        per-sample range
nfe_ratio         reference mean / variant mean of the counter over    per-pair range
merged_calls_ratio    paired samples (the variant does 1/ratio of the
target_forwards_ratio reference's work); one check per counter
draft_forwards_ratio  (drafter forwards)
flops_ratio       (FLOPs, when a run records cost.flops)
================  ===================================================  ==================

``diff``, ``speedup`` and ``exact_match`` read the comparison engine's entry from scores.json
(the same figure the report prints) when the claim asks for what was stored (no ``where``
other than the suite's group field, ``group_by`` absent or the suite's group field, the
file's confidence / resamples / seed); otherwise the same engine computes it from the records.

``rule: sequential`` on a ``speedup`` claim applies the noise-aware rule of docs/gate.md.

Exit status: 0 all claims hold, 1 a claim fails, 2 the claims file or the run cannot be
used (unknown suite, variant or metric: the message names the claim's line; a damaged
store), 3 a run is unfinished (``--allow-partial`` gates it anyway; see gate_precheck), 4 no
claim fails but a sequential timing claim is inconclusive.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import comparisons as cmp
from . import statistics as st
from .claims import Claim, ClaimsFile
from .gate_runs import ClaimError, RunView, unknown_name


@dataclass(frozen=True)
class Measurement:
    """What a check measured: estimate, interval (if any), n, and the compared values."""

    estimate: float
    low: float | None
    high: float | None
    n: int
    interval: str  # "bootstrap" | "wilson" | "range" | "none" (or the entry's method name)
    compared: tuple[float, ...] = ()
    source: str = "records"  # "scores.json" when read from the comparison engine's entry
    decision: str = ""  # the sequential rule's own verdict: pass | fail | inconclusive

    def measured_text(self) -> str:
        """The compared value(s); a per-sample range prints as ``min..max`` (or one value)."""
        vals = sorted(set(self.compared))
        if self.interval == "range" and len(vals) == 2:
            return f"{vals[0]:.4g}..{vals[1]:.4g}"
        return ", ".join(f"{v:.4g}" for v in vals)


@dataclass(frozen=True)
class ClaimResult:
    """Verdict of one claim: ``status`` is "pass", "fail", "inconclusive" or "error"."""

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
    ref, oth = cmp.paired(ref_ok, oth_ok)
    if not ref:
        raise ClaimError(
            f"{claim.location}: no paired samples of {claim.variant} and its reference"
        )
    return ref, oth


def _boot(est: float, low: float, high: float, n: int, kind: str = "bootstrap") -> Measurement:
    return Measurement(est, low, high, n, kind)


def _settings(cfg: ClaimsFile) -> cmp.Settings:
    return cmp.Settings(cfg.confidence, cfg.resamples, cfg.seed)


def _scope(claim: Claim, meta: cmp.SuiteMeta) -> str | None:
    """The stored entry's scope this claim asks for, or None (then it is computed)."""
    where = dict(claim.where)
    if not where:
        if claim.group_by is None:
            return "all"
        return "overall" if claim.group_by == meta.group_field else None
    if claim.group_by is None and len(where) == 1 and meta.group_field in where:
        return f"{meta.group_field}={where[meta.group_field]}"
    return None


def stored(claim: Claim, view: RunView, cfg: ClaimsFile, quantity: str) -> Measurement | None:
    """The comparison engine's entry for this claim from scores.json (the figure the report
    shows), when the claim asks for exactly what was stored with the same settings."""
    if claim.reference not in (None, view.suite_reference.get(claim.suite)):
        return None
    block = view.suite_scores.get(claim.suite) or {}
    entries = ((block.get("comparisons") or {}).get(claim.variant) or {}).get("estimates")
    scope = _scope(claim, cmp.SuiteMeta.from_dict(block.get("declared")))
    if not entries or scope is None:
        return None
    found = cmp.find(entries, quantity, claim.metric if quantity == "diff" else None, scope)
    if found is None or not cmp.same_settings(found, _settings(cfg)):
        return None
    kind = str((found.get("method") or {}).get("interval", "none"))
    return Measurement(found["estimate"], found["ci_low"], found["ci_high"], found["n"], kind,
                       source="scores.json")  # fmt: skip


def _entry_measurement(found: dict | None, claim: Claim, what: str) -> Measurement:
    if found is None:
        raise ClaimError(f"{claim.location}: {what}: nothing to compare in the paired records")
    kind = str((found.get("method") or {}).get("interval", "none"))
    return Measurement(found["estimate"], found["ci_low"], found["ci_high"], found["n"], kind)


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
    if not claim.metric:
        raise ClaimError(f"{claim.location}: check {claim.check!r} needs 'metric'")
    found = stored(claim, view, cfg, "diff")
    if found is not None:
        return found
    ref, oth = _pairs(claim, view)
    _metric_values(claim, ref), _metric_values(claim, oth)  # names a missing metric
    groups = None
    if claim.group_by:
        groups = [cmp.group_label(r, claim.group_by) for r in ref]
        if any(g is None for g in groups):
            raise ClaimError(
                f"{claim.location}: group_by {claim.group_by!r}: not in every record's details or output"
            )
    scope = "overall" if groups else "all"
    d = cmp.diff(ref, oth, claim.metric, scope, groups, _settings(cfg), claim.group_by)
    return _entry_measurement(d, claim, "diff")


def measure_speedup(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    if claim.rule == "sequential":
        return sequential_speedup(claim, view, cfg)
    found = stored(claim, view, cfg, "speedup")
    if found is not None:
        return found
    ref, oth = _pairs(claim, view)
    _seconds(claim, ref + oth)
    return _entry_measurement(cmp.speedup(ref, oth, "all", _settings(cfg)), claim, "speedup")


def _seconds(claim: Claim, records: list[dict]) -> None:
    bad = [r["sample"] for r in records if not cmp.number((r.get("profile") or {}).get("seconds"))]
    if bad:
        raise ClaimError(
            f"{claim.location}: speedup needs profile.seconds > 0 in every record (sample {bad[0]})"
        )


def sequential_speedup(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    """The noise-aware rule (docs/gate.md): blocks are the interleaved repeats
    (``details.repeat``); after block k >= min_blocks the bootstrap interval of the median
    paired ratio over blocks 1..k decides: pass when its bound on the claim's side clears the
    threshold, fail when the other bound is beyond it, else look at the next block. Undecided
    after the recorded blocks: inconclusive (``decision`` says whether the cap was reached)."""
    ref, oth = _pairs(claim, view)
    _seconds(claim, ref + oth)
    blocks = sorted({r.get("details", {}).get("repeat") for r in ref} - {None})
    if not blocks:
        raise ClaimError(f"{claim.location}: rule sequential needs blocks (details.repeat)")
    upward = claim.op in (">=", ">")
    last: dict | None = None
    for k in range(1, min(len(blocks), cfg.max_blocks) + 1):
        keep = set(blocks[:k])
        idx = [i for i, r in enumerate(ref) if r["details"].get("repeat") in keep]
        last = cmp.speedup([ref[i] for i in idx], [oth[i] for i in idx], "all", _settings(cfg))
        if k < cfg.min_blocks or last is None:
            continue
        low, high = last["ci_low"], last["ci_high"]
        lower_ok, upper_ok = claim.holds(low), claim.holds(high)
        if lower_ok if upward else upper_ok:
            return _decided(last, k, "pass", low if upward else high)
        if not (upper_ok if upward else lower_ok):
            return _decided(last, k, "fail", high if upward else low)
    assert last is not None
    capped = len(blocks) >= cfg.max_blocks
    why = f"cap of {cfg.max_blocks} blocks reached" if capped else "measure another block"
    side = last["ci_low"] if upward else last["ci_high"]
    return _decided(last, min(len(blocks), cfg.max_blocks), f"inconclusive ({why})", side)


def _decided(found: dict, blocks: int, decision: str, bound: float | None) -> Measurement:
    kind = f"{found['method']['interval']} after {blocks} block(s): {decision}"
    compared = () if bound is None else (bound,)
    return Measurement(found["estimate"], found["ci_low"], found["ci_high"], found["n"], kind,
                       compared, decision=decision.split(" ")[0])  # fmt: skip


def measure_exact_match(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    found = stored(claim, view, cfg, "exact_match") if claim.field is None else None
    if found is not None:
        return found
    ref, oth = _pairs(claim, view)
    got = cmp.exact_match(ref, oth, "all", _settings(cfg), claim.field)
    if got is None:
        fields = [claim.field] if claim.field else list(cmp.TEXT_FIELDS)
        raise ClaimError(
            f"{claim.location}: exact_match: records have no output field {' or '.join(fields)}"
        )
    return _entry_measurement(got, claim, "exact_match")


def _ratio(name: str) -> Callable[[Claim, RunView, ClaimsFile], Measurement]:
    """``<counter>_ratio``: reference mean / variant mean of a deterministic cost counter."""

    def measure(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
        found = stored(claim, view, cfg, f"{name}_ratio")
        if found is not None:
            return Measurement(found.estimate, found.low, found.high, found.n, "range",
                               source=found.source)  # fmt: skip
        ref, oth = _pairs(claim, view)
        got = cmp.counter_ratio(ref, oth, name, "all")
        if got is None:
            raise ClaimError(
                f"{claim.location}: {name}_ratio: {name} is not in the paired records' cost"
            )
        return Measurement(got["estimate"], got["ci_low"], got["ci_high"], got["n"], "range")

    return measure


def measure_tau(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
    recs = view.select(claim, claim.variant)[0]
    got = cmp.tau(recs, "all")
    if got is None:
        raise ClaimError(f"{claim.location}: tau: no record of the variant reports it")
    return Measurement(got["estimate"], got["ci_low"], got["ci_high"], got["n"], "range")


def _profile_count(key: str) -> Callable[[Claim, RunView, ClaimsFile], Measurement]:
    def measure(claim: Claim, view: RunView, cfg: ClaimsFile) -> Measurement:
        recs = view.select(claim, claim.variant)[0]
        vals = [cmp.counter(r, key) for r in recs]
        if not recs or any(v is None for v in vals):
            raise ClaimError(
                f"{claim.location}: {key}: not in every record's profile or cost "
                "(a generator module for nfe; decoding stats for the text counters)"
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
    "target_forwards": (_profile_count("target_forwards"), False, False),
    "flops": (_profile_count("flops"), False, False),
    "tau": (measure_tau, False, False),
    **{f"{c}_ratio": (_ratio(c), False, True) for c in cmp.COUNTERS},
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
        if claim.rule == "sequential" and (claim.check != "speedup"):
            raise ClaimError(f"{claim.location}: rule sequential applies to check speedup only")
        m = measure(claim, view, cfg)
        errors = view.select(claim, claim.variant)[1]
        if is_paired:
            errors += view.select(claim, view.reference(claim))[1]
    except ClaimError as err:
        return ClaimResult(claim, "error", message=str(err).removeprefix(f"{claim.location}: "))
    if bound is not None:
        m = replace(m, compared=(m.high if bound == "_ci_high" else m.low,))
    elif not m.compared and not m.decision:
        m = replace(m, compared=(m.estimate,))
    ok = all(claim.holds(v) for v in m.compared)
    status = m.decision or ("pass" if ok else "fail")
    message = ""
    if claim.check != "errors" and errors > cfg.max_errors:
        status, message = "fail", f"{errors} errored sample(s), max_errors {cfg.max_errors}"
    return ClaimResult(claim, status, m, message)


def check_claims(
    claims: ClaimsFile, run_dirs: str | Path | Sequence[str | Path]
) -> list[ClaimResult]:
    """Evaluate every claim of ``claims`` on one run directory or several (one per suite)."""
    view = RunView(run_dirs)
    return [evaluate(c, view, claims) for c in claims.claims]


INCONCLUSIVE_EXIT = 4


def exit_status(results: list[ClaimResult]) -> int:
    """2 if any claim could not be evaluated, else 1 if any fails, else 4 if a sequential
    timing claim is inconclusive (measure more blocks), else 0."""
    if any(r.status == "error" for r in results):
        return 2
    if any(r.status == "fail" for r in results):
        return 1
    return INCONCLUSIVE_EXIT if any(r.status == "inconclusive" for r in results) else 0

"""The comparison engine: every variant-vs-reference figure computed once, method named.

Scoring calls :func:`compare` once per (suite, variant) and writes the entries to
``scores.json`` (``suites.<s>.comparisons.<v>.estimates``); the report, the Markdown and
LaTeX tables, the terminal summary and ``hbench gate`` all read those entries. A claim whose
filters or statistics settings differ from the stored method is computed by the same
functions here, so there is one implementation of each number.

An entry::

    {"id": "diff:correct|overall", "quantity": "diff", "metric": "correct", "scope": "overall",
     "estimate": -0.03, "ci_low": -0.18, "ci_high": 0.15, "n": 33,
     "method": {"estimator": "...", "stratified_by": "tag", "resamples": 10000, "seed": 0,
                "confidence": 0.95, "interval": "percentile bootstrap"}}

Scopes: ``all`` (every pair, unstratified), ``overall`` (unweighted mean over the suite's
groups, bootstrap stratified by group; strata suites only) and ``<field>=<value>`` (one
group's pairs). Suites whose groups are *workloads* (the latency suite) never pool groups:
their figures exist per workload only, since T2I and editing times are not comparable.

Roles (DESIGN.md "Variant roles"): candidates get quality differences, speedups, exact
match and cost ratios; bounds (an oracle) get quality differences only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import statistics as st

REFERENCE, CANDIDATE, BOUND = "reference", "candidate", "bound"
ROLES = (REFERENCE, CANDIDATE, BOUND)
STRATA, WORKLOAD = "strata", "workload"
# Per-sample metrics that measure time or work, not quality: they get no quality difference.
TIME_METRICS = frozenset(
    {"seconds", "model_seconds", "overhead_seconds", "tokens_per_s", "decode_tokens_per_s"}
)
WORK_METRICS = frozenset({"new_tokens", "acceptance_length"})
# Deterministic per-sample cost counters (record ``cost``); ratios are reference / variant.
COUNTERS = ("nfe", "merged_calls", "target_forwards", "draft_forwards", "flops")
TEXT_FIELDS = ("token_ids", "text")


@dataclass(frozen=True)
class SuiteMeta:
    """What a suite declares about its records (written to scores.json, read by renderers).

    Attributes:
        primary_metric: the headline per-sample quality metric (None: a timing suite).
        group_field: the per-sample label its samples group by (tag, task_type, workload).
        group_kind: ``"strata"`` (headline = unweighted mean over groups) or ``"workload"``
            (groups are different work; never pooled).
        lower_is_better: quality metrics where lower is better (default: higher is better).
        report_metrics: metrics shown per group in reports (default: the primary metric).
    """

    primary_metric: str | None
    group_field: str | None = None
    group_kind: str = STRATA
    lower_is_better: tuple[str, ...] = ()
    report_metrics: tuple[str, ...] = ()  # per-group tables (default: the primary metric)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``declared`` entry of a suite block)."""
        return {
            **asdict(self),
            "lower_is_better": list(self.lower_is_better),
            "report_metrics": list(self.report_metrics),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SuiteMeta:
        """Read back :meth:`to_dict` (an absent block declares nothing)."""
        data = data or {}
        return cls(
            data.get("primary_metric"),
            data.get("group_field"),
            data.get("group_kind") or STRATA,
            tuple(data.get("lower_is_better") or ()),
            tuple(data.get("report_metrics") or ()),
        )

    def direction(self, metric: str) -> str:
        """``"higher"`` or ``"lower"``: which way ``metric`` improves."""
        if metric in TIME_METRICS or metric.endswith("_s") or metric in self.lower_is_better:
            return "lower"
        return "higher"


@dataclass(frozen=True)
class Settings:
    """Interval settings every entry names (claims files may ask for others)."""

    confidence: float = st.DEFAULT_CONFIDENCE
    resamples: int = st.DEFAULT_RESAMPLES
    seed: int = st.DEFAULT_SEED


# ------------------------------------------------------------------ records


def paired(reference: list[dict[str, Any]], other: list[dict[str, Any]]) -> tuple[list, list]:
    """Records of two variants matched by (sample, seed), errors excluded, in sample order.

    The one pairer of hbench (scoring, gate, reports, ``--against``)."""
    ref = {(str(r["sample"]), int(r.get("seed") or 0)): r for r in reference if not r.get("error")}
    oth = {(str(r["sample"]), int(r.get("seed") or 0)): r for r in other if not r.get("error")}
    keys = sorted(set(ref) & set(oth))
    return [ref[k] for k in keys], [oth[k] for k in keys]


def record_field(record: dict[str, Any], key: str) -> Any:
    """A per-sample label: ``details[key]``, else ``output[key]`` (GEdit keeps task_type there)."""
    details = record.get("details") or {}
    return details[key] if key in details else (record.get("output") or {}).get(key)


def group_label(record: dict[str, Any], field: str | None) -> str | None:
    """The record's group under ``field``; a non-English language is part of it (GEdit)."""
    if field is None:
        return None
    value = record_field(record, field)
    if value is None:
        return None
    language = record_field(record, "language")
    if isinstance(language, str) and language not in ("", "en"):
        return f"{value} [{language}]"
    return str(value)


def number(value: Any) -> float | None:
    """``value`` as a finite float, else None (bools and strings are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def counter(record: dict[str, Any], name: str) -> float | None:
    """A deterministic cost counter of a record: ``cost[name]``, else ``profile[name]``."""
    value = number((record.get("cost") or {}).get(name))
    return value if value is not None else number((record.get("profile") or {}).get(name))


def quality_metrics(records: Sequence[dict[str, Any]]) -> list[str]:
    """Per-sample metrics of these records that are quality, not time or work."""
    names = {m for r in records for m in (r.get("metrics") or {})}
    return sorted(n for n in names if n not in TIME_METRICS | WORK_METRICS and not n.endswith("_s"))


# ------------------------------------------------------------------ entries


def _method(estimator: str, interval: str, settings: Settings | None, **extra: Any) -> dict:
    out: dict[str, Any] = {"estimator": estimator, "interval": interval}
    if settings is not None:
        out.update(confidence=settings.confidence)
        if interval.endswith("bootstrap"):
            out.update(resamples=settings.resamples, seed=settings.seed)
    out.update(extra)
    return out


def entry(
    quantity: str,
    metric: str | None,
    scope: str,
    estimate: float,
    low: float | None,
    high: float | None,
    n: int,
    method: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """One comparison entry (see the module docstring)."""
    return {
        "id": entry_id(quantity, metric, scope),
        "quantity": quantity,
        "metric": metric,
        "scope": scope,
        "estimate": float(estimate),
        "ci_low": None if low is None else float(low),
        "ci_high": None if high is None else float(high),
        "n": int(n),
        "method": method,
        **extra,
    }


def entry_id(quantity: str, metric: str | None, scope: str) -> str:
    """``<quantity>[:<metric>]|<scope>``, the lookup key of an entry."""
    return f"{quantity}{':' + metric if metric else ''}|{scope}"


def diff(
    ref: list[dict], oth: list[dict], metric: str, scope: str, groups: list[Any] | None,
    settings: Settings, stratified_by: str | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """Mean paired difference (variant - reference) of ``metric``; with ``groups`` the
    unweighted mean over groups, bootstrap stratified by group. Pairs where either side lacks
    a finite value are left out (a failed judge must not drop the metric everywhere)."""
    keep = [
        i
        for i, (a, b) in enumerate(zip(ref, oth, strict=True))
        if number((a.get("metrics") or {}).get(metric)) is not None
        and number((b.get("metrics") or {}).get(metric)) is not None
    ]
    if not keep:
        return None
    x = [float(ref[i]["metrics"][metric]) for i in keep]
    y = [float(oth[i]["metrics"][metric]) for i in keep]
    g = None if groups is None else [groups[i] for i in keep]
    d = st.paired_bootstrap(x, y, settings.confidence, settings.resamples, settings.seed, g)
    if g is None:
        method = _method("mean of paired differences (variant - reference)",
                         "percentile bootstrap", settings, stratified_by=None)  # fmt: skip
    else:
        method = _method(
            "unweighted mean over groups of the mean paired difference",
            "stratified percentile bootstrap",
            settings,
            stratified_by=stratified_by,
            groups=len(set(g)),
        )
    return entry("diff", metric, scope, d.mean_diff, d.ci_low, d.ci_high, d.n, method)


def speedup(ref: list[dict], oth: list[dict], scope: str, settings: Settings) -> dict | None:
    """Median of paired ratios reference seconds / variant seconds (profile.seconds)."""
    secs = [
        (number((a.get("profile") or {}).get("seconds")), number((b.get("profile") or {}).get("seconds")))
        for a, b in zip(ref, oth, strict=True)
    ]  # fmt: skip
    secs = [(a, b) for a, b in secs if a and b and a > 0 and b > 0]
    if not secs:
        return None
    s = st.speedup([a for a, _ in secs], [b for _, b in secs], settings.confidence,
                   settings.resamples, settings.seed)  # fmt: skip
    method = _method("median of paired ratios reference/variant seconds",
                     "percentile bootstrap", settings)  # fmt: skip
    return entry("speedup", None, scope, s.median, s.ci_low, s.ci_high, s.n, method)


def _text_key(output: dict[str, Any], field: str | None) -> tuple[str, Any] | None:
    """What a text output is compared on: token ids when present (non-empty, or empty with
    empty text), else the text; with ``field`` that field only."""
    if field is not None:
        return (field, output[field]) if field in output else None
    ids, text = output.get("token_ids"), output.get("text")
    if isinstance(ids, list) and (ids or not text):
        return ("token_ids", ids)
    if isinstance(text, str):
        return ("text", text)
    return None


def exact_match(
    ref: list[dict], oth: list[dict], scope: str, settings: Settings, field: str | None = None
) -> dict[str, Any] | None:
    """Share of pairs with identical output (token ids when both sides have them, else text),
    Wilson interval; the divergent samples are listed with where they first differ."""
    outcomes, fields, divergent = [], set(), []
    for a, b in zip(ref, oth, strict=True):
        ka, kb = _text_key(a.get("output") or {}, field), _text_key(b.get("output") or {}, field)
        if ka is None or kb is None:
            continue
        if ka[0] != kb[0]:  # one side lacks token ids: compare the text
            ka = ("text", (a.get("output") or {}).get("text"))
            kb = ("text", (b.get("output") or {}).get("text"))
            if not isinstance(ka[1], str) or not isinstance(kb[1], str):
                continue
        fields.add(ka[0])
        same = ka[1] == kb[1]
        outcomes.append(same)
        if not same:
            divergent.append({"sample": str(b["sample"]), "seed": b.get("seed"), "field": ka[0],
                              "index": first_difference(ka[1], kb[1])})  # fmt: skip
    if not outcomes:
        return None
    r = st.rate(outcomes, settings.confidence)
    compared = "+".join(f for f in TEXT_FIELDS if f in fields) or "+".join(sorted(fields))
    method = _method(f"share of identical outputs ({compared})", "wilson", settings)
    return entry("exact_match", None, scope, r.estimate, r.low, r.high, r.n, method,
                 compared_on=compared, divergent=divergent)  # fmt: skip


def first_difference(a: Sequence[Any], b: Sequence[Any]) -> int | None:
    """Index of the first position where ``a`` and ``b`` differ (a length difference counts)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def counter_ratio(ref: list[dict], oth: list[dict], name: str, scope: str) -> dict | None:
    """Reference mean / variant mean of a deterministic counter over pairs that both have it
    (``nfe_ratio`` 16.3 = the variant does 1/16.3 of the reference's generator work)."""
    vals = [(counter(a, name), counter(b, name)) for a, b in zip(ref, oth, strict=True)]
    vals = [(a, b) for a, b in vals if a is not None and b is not None]
    if not vals or sum(b for _, b in vals) <= 0:
        return None
    a, b = np.mean([v[0] for v in vals]), np.mean([v[1] for v in vals])
    lo, hi = min(x / y for x, y in vals if y > 0), max(x / y for x, y in vals if y > 0)
    method = _method(f"mean reference {name} / mean variant {name} (deterministic counter)",
                     "per-pair range", None)  # fmt: skip
    return entry(f"{name}_ratio", None, scope, float(a / b), lo, hi, len(vals), method,
                 reference=float(a), variant=float(b))  # fmt: skip


def tau(oth: list[dict], scope: str) -> dict | None:
    """Mean tokens per target forward of the variant (deterministic per sample)."""
    vals = [counter(r, "tau") for r in oth]
    if not vals or any(v is None for v in vals):
        vals = [number((r.get("metrics") or {}).get("acceptance_length")) for r in oth]
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    method = _method("mean over samples of tokens per target forward", "per-sample range", None)
    return entry("tau", None, scope, float(np.mean(vals)), min(vals), max(vals), len(vals), method)


# ------------------------------------------------------------------ one comparison


def scopes(ref: list[dict], meta: SuiteMeta) -> list[tuple[str, list[int], list | None]]:
    """(scope, pair indices, stratification labels or None) of a suite's comparisons."""
    labels = [group_label(r, meta.group_field) for r in ref]
    names = sorted({g for g in labels if g is not None})
    out: list[tuple[str, list[int], list | None]] = []
    every = list(range(len(ref)))
    if meta.group_kind != WORKLOAD or not names:
        out.append(("all", every, None))
    if meta.group_field and names:
        if meta.group_kind == STRATA and len(names) > 1 and None not in labels:
            out.append(("overall", every, labels))
        for name in names:
            idx = [i for i, g in enumerate(labels) if g == name]
            out.append((f"{meta.group_field}={name}", idx, None))
    return out


def compare(
    reference: list[dict[str, Any]],
    other: list[dict[str, Any]],
    meta: SuiteMeta,
    role: str = CANDIDATE,
    settings: Settings = Settings(),
) -> list[dict[str, Any]]:
    """Every comparison entry of one variant against the reference (see module docstring)."""
    ref, oth = paired(reference, other)
    if not ref:
        return []
    out: list[dict[str, Any]] = []
    metrics = quality_metrics(ref + oth)
    for scope, idx, groups in scopes(ref, meta):
        a, b = [ref[i] for i in idx], [oth[i] for i in idx]
        for metric in metrics:
            found = diff(a, b, metric, scope, groups, settings, meta.group_field)
            if found is not None:
                out.append(found)
        if role != CANDIDATE or scope == "overall":
            continue
        found_all = [
            speedup(a, b, scope, settings),
            exact_match(a, b, scope, settings),
            tau(b, scope),
            *(counter_ratio(a, b, c, scope) for c in COUNTERS),
        ]
        out += [e for e in found_all if e is not None]
    return out


def find(
    entries: list[dict[str, Any]], quantity: str, metric: str | None, scope: str
) -> dict | None:
    """The entry with this id, or None."""
    key = entry_id(quantity, metric, scope)
    return next((e for e in entries if e.get("id") == key), None)


def same_settings(found: dict[str, Any], settings: Settings) -> bool:
    """Whether a stored entry was computed with these interval settings."""
    m = found.get("method") or {}
    return all(
        m.get(k, v) == v
        for k, v in (
            ("confidence", settings.confidence),
            ("resamples", settings.resamples),
            ("seed", settings.seed),
        )
    )

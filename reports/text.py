"""Text-output evidence: exact match with first divergences, and acceptance statistics.

DESIGN.md, "Lossless, text": under greedy decoding the accelerated output must be
token-identical to the baseline's, sample by sample; the report gives the exact-match rate
and, for every sample that differs, where it first differs. Acceptance length tau is the
number of tokens committed per target forward (1.0 for plain decoding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbench.harness import statistics as st

from .data import pairs
from .run import Run

SNIPPET = 40  # characters of context shown either side of a divergence


@dataclass(frozen=True)
class Divergence:
    """Where one sample's accelerated output first differs from the reference output."""

    sample: str
    seed: Any
    token_index: int | None  # first differing token (None when token ids are absent)
    reference_token: int | None
    other_token: int | None
    char_index: int
    reference_text: str  # snippet around the divergence
    other_text: str


@dataclass(frozen=True)
class ExactMatch:
    """Exact-match rate of one variant against the reference, with its divergences."""

    variant: str
    reference: str
    matches: int
    n: int
    low: float
    high: float
    compared_on: str  # "token_ids" or "text"
    divergences: tuple[Divergence, ...]


def _first_difference(a: list[Any] | str, b: list[Any] | str) -> int | None:
    """Index of the first position where ``a`` and ``b`` differ (a length difference counts)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def _snippet(text: str, at: int) -> str:
    start = max(0, at - SNIPPET)
    head = "…" if start > 0 else ""
    tail = "…" if at + SNIPPET < len(text) else ""
    return f"{head}{text[start : at + SNIPPET]}{tail}"


def _divergence(ref: dict[str, Any], oth: dict[str, Any]) -> Divergence | None:
    a_out, b_out = ref.get("output") or {}, oth.get("output") or {}
    a_text, b_text = str(a_out.get("text", "")), str(b_out.get("text", ""))
    a_ids, b_ids = a_out.get("token_ids"), b_out.get("token_ids")
    token_index = None
    if isinstance(a_ids, list) and isinstance(b_ids, list):
        token_index = _first_difference(a_ids, b_ids)
        if token_index is None:
            return None
    char_index = _first_difference(a_text, b_text)
    if token_index is None and char_index is None:
        return None
    at = char_index if char_index is not None else min(len(a_text), len(b_text))

    def token(ids: Any) -> int | None:
        if token_index is None or not isinstance(ids, list) or token_index >= len(ids):
            return None
        return int(ids[token_index])

    return Divergence(
        sample=str(oth["sample"]),
        seed=oth.get("seed"),
        token_index=token_index,
        reference_token=token(a_ids),
        other_token=token(b_ids),
        char_index=at,
        reference_text=_snippet(a_text, at),
        other_text=_snippet(b_text, at),
    )


def _has_text(record: dict[str, Any]) -> bool:
    output = record.get("output") or {}
    return isinstance(output.get("text"), str) or isinstance(output.get("token_ids"), list)


def exact_match(run: Run, suite: str, variant: str) -> ExactMatch | None:
    """Exact match of ``variant``'s outputs against the reference's (token ids, else text)."""
    matched = [(a, b) for a, b in pairs(run, suite, variant) if _has_text(a) and _has_text(b)]
    if not matched:
        return None
    with_ids = all(
        isinstance((r.get("output") or {}).get("token_ids"), list) for pair in matched for r in pair
    )
    divergences = [d for d in (_divergence(a, b) for a, b in matched) if d is not None]
    n = len(matched)
    interval = st.wilson(n - len(divergences), n)
    return ExactMatch(
        variant=variant,
        reference=run.reference,
        matches=n - len(divergences),
        n=n,
        low=interval.low,
        high=interval.high,
        compared_on="token_ids" if with_ids else "text",
        divergences=tuple(divergences),
    )


def _stat(record: dict[str, Any], name: str) -> Any:
    """A decoding statistic from ``output``, ``metrics``, ``details`` or ``profile.stages`` (in
    that order: systems report TextOutput.stats, and suites copy them to one of these places;
    per-position acceptance lists live in ``details``)."""
    for place in (record.get("output"), record.get("metrics"), record.get("details")):
        if isinstance(place, dict) and name in place:
            return place[name]
    return ((record.get("profile") or {}).get("stages") or {}).get(name)


def acceptance_lengths(run: Run, suite: str, variant: str) -> list[float]:
    """Per-sample acceptance length tau of ``variant`` (samples without it are left out)."""
    out = []
    for r in run.ok_records(suite, variant):
        value = _stat(r, "acceptance_length")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append(float(value))
    return out


def acceptance_per_position(run: Run, suite: str, variant: str) -> list[tuple[float, int]]:
    """Acceptance rate at each draft position, with the samples that drafted it.

    When every sample carries the runtime's counts (``drafted_per_position`` /
    ``accepted_per_position``), the rate at position k is pooled: accepted / drafted summed
    over the samples that drafted k (a sample that never reached k says nothing about it).
    Otherwise it is the mean of the per-sample ``accept_per_position`` rates over the samples
    whose list reaches k.
    """
    records = run.ok_records(suite, variant)
    counts = [
        (_stat(r, "drafted_per_position"), _stat(r, "accepted_per_position")) for r in records
    ]
    rated = [r for r in records if isinstance(_stat(r, "accept_per_position"), list)]
    with_counts = [
        (d, a)
        for d, a in counts
        if isinstance(d, list) and isinstance(a, list) and len(d) == len(a)
    ]
    if with_counts and len(with_counts) >= len(rated):
        drafted: list[float] = []
        accepted: list[float] = []
        samples: list[int] = []
        for d, a in with_counts:
            for k, (dk, ak) in enumerate(zip(d, a, strict=True)):
                while len(drafted) <= k:
                    drafted.append(0.0)
                    accepted.append(0.0)
                    samples.append(0)
                if dk > 0:
                    drafted[k] += dk
                    accepted[k] += ak
                    samples[k] += 1
        return [(a / d, n) for a, d, n in zip(accepted, drafted, samples, strict=True) if d > 0]
    columns: list[list[float]] = []
    for r in rated:
        for k, value in enumerate(_stat(r, "accept_per_position")):
            if isinstance(value, (int, float)) and math.isfinite(value):
                while len(columns) <= k:
                    columns.append([])
                columns[k].append(float(value))
    return [(float(np.mean(c)), len(c)) for c in columns if c]

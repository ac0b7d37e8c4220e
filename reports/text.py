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

from hbench.harness import comparisons as cmp

from .data import entry, pairs, scope_of
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


_first_difference = cmp.first_difference


def _snippet(text: str, at: int) -> str:
    start = max(0, at - SNIPPET)
    head = "…" if start > 0 else ""
    tail = "…" if at + SNIPPET < len(text) else ""
    return f"{head}{text[start : at + SNIPPET]}{tail}"


def _divergence(
    ref: dict[str, Any], oth: dict[str, Any], on: str = "token_ids"
) -> Divergence | None:
    a_out, b_out = ref.get("output") or {}, oth.get("output") or {}
    a_text, b_text = str(a_out.get("text", "")), str(b_out.get("text", ""))
    a_ids, b_ids = a_out.get("token_ids"), b_out.get("token_ids")
    token_index = None
    if on == "token_ids" and isinstance(a_ids, list) and isinstance(b_ids, list):
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


def exact_match(run: Run, suite: str, variant: str, group: str | None = None) -> ExactMatch | None:
    """Exact match of ``variant`` against the reference: the comparison engine's entry
    (token ids where both sides have them, else the text), with each divergent sample's
    first difference located in its records."""
    found = entry(run, suite, variant, "exact_match", None, scope_of(run, suite, group))
    if found is None:
        return None
    by_key = {(str(b["sample"]), b.get("seed")): (a, b) for a, b in pairs(run, suite, variant)}
    divergences = []
    for d in found.get("divergent") or []:
        pair = by_key.get((d["sample"], d.get("seed")))
        if pair is not None:
            div = _divergence(*pair, on=d.get("field", "token_ids"))
            if div is not None:
                divergences.append(div)
    n = int(found["n"])
    return ExactMatch(
        variant=variant,
        reference=run.reference,
        matches=n - len(found.get("divergent") or []),
        n=n,
        low=float(found["ci_low"]),
        high=float(found["ci_high"]),
        compared_on=str(found.get("compared_on", "token_ids")),
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

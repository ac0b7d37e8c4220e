"""Lossless checks between a reference and an accelerated variant.

Greedy: token-by-token comparison per sample (exact match, first divergence index and the
diverging tokens in context). Sampling: the output distributions of the two variants over
repeated seeds of the same prompt, compared with a chi-square test of homogeneity.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

CONTEXT = 5  # tokens shown on each side of a divergence


def first_divergence(a: list[int], b: list[int]) -> int | None:
    """Index of the first differing token (length difference counts), None when identical."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def compare_tokens(
    ref: list[int], other: list[int], ref_text: str = "", other_text: str = ""
) -> dict[str, Any]:
    """Exact match and, when they differ, where and how (ids in a window of context)."""
    i = first_divergence(ref, other)
    if i is None:
        return {"exact": True, "first_divergence": None}
    lo = max(0, i - CONTEXT)
    return {
        "exact": False,
        "first_divergence": i,
        "reference_token": ref[i] if i < len(ref) else None,
        "other_token": other[i] if i < len(other) else None,
        "context_before": ref[lo:i],
        "reference_after": ref[i : i + CONTEXT],
        "other_after": other[i : i + CONTEXT],
        "reference_text": ref_text,
        "other_text": other_text,
    }


def lossless_summary(
    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]], max_listed: int = 20
) -> dict[str, Any]:
    """Exact-match rate over ``(sample, reference output, other output)`` pairs.

    Outputs are the records' ``output`` dicts with ``token_ids`` and ``text``.
    """
    if not pairs:
        return {"n": 0}
    divergences = []
    exact = 0
    for sample, r, o in pairs:
        c = compare_tokens(
            list(r.get("token_ids", [])),
            list(o.get("token_ids", [])),
            r.get("text", ""),
            o.get("text", ""),
        )
        if c["exact"]:
            exact += 1
        else:
            divergences.append({"sample": sample, **c})
    return {
        "n": len(pairs),
        "exact_match_rate": exact / len(pairs),
        "divergent": len(divergences),
        "first_divergences": divergences[:max_listed],
    }


def distribution_test(
    ref: list[tuple[int, ...]], other: list[tuple[int, ...]], min_expected: float = 5.0
) -> dict[str, Any]:
    """Chi-square test that two sets of sampled outputs come from one distribution.

    Outputs are whole token sequences (categories). Categories whose pooled expected count
    is below ``min_expected`` are merged into one "rare" bin so the chi-square
    approximation holds.

    Returns:
        ``statistic``, ``p_value``, ``dof``, ``categories`` (after pooling), ``n_reference``,
        ``n_other``; ``p_value`` is 1.0 when both sides produced a single identical output.
    """
    from scipy.stats import chi2_contingency

    cr, co = Counter(ref), Counter(other)
    n_r, n_o = len(ref), len(other)
    if not n_r or not n_o:
        raise ValueError("distribution_test needs samples from both variants")
    frac_r = n_r / (n_r + n_o)
    keep, rare = [], [0, 0]
    for cat in set(cr) | set(co):
        total = cr[cat] + co[cat]
        if min(total * frac_r, total * (1 - frac_r)) >= min_expected:
            keep.append([cr[cat], co[cat]])
        else:
            rare[0] += cr[cat]
            rare[1] += co[cat]
    if sum(rare):
        keep.append(rare)
    if len(keep) < 2:
        return {
            "statistic": 0.0,
            "p_value": 1.0,
            "dof": 0,
            "categories": len(keep),
            "n_reference": n_r,
            "n_other": n_o,
        }
    table = [[row[0] for row in keep], [row[1] for row in keep]]
    stat, p, dof, _ = chi2_contingency(table)
    return {
        "statistic": float(stat),
        "p_value": float(p),
        "dof": int(dof),
        "categories": len(keep),
        "n_reference": n_r,
        "n_other": n_o,
    }

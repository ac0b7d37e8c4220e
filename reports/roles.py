"""Variant roles: the reference, accelerated candidates, and bounds (oracles).

A bound (the shapes oracle: exact renderer and detector) gets quality rows but no speedup
or lossless rows: its speed says nothing about an acceleration method, and on a linear or
log axis it flattens every real speedup. Roles are read from the run store, first match:

1. a ``roles`` mapping (variant -> role) in ``scores.json``, the manifest's ``system`` block
   or the run config's ``system`` block (what the comparison engine of issue #22 writes);
2. otherwise: the manifest's reference is the reference; a variant is a bound when it is
   named ``oracle`` or its recorded description (``manifest.system.variants.<v>``) has an
   engine ``kind`` / ``engine`` of ``oracle``; every other variant is a candidate.
"""

from __future__ import annotations

from typing import Any

from .run import Run, RunStoreError

REFERENCE, CANDIDATE, BOUND = "reference", "candidate", "bound"
ROLE_ALIASES = {
    "reference": REFERENCE,
    "baseline": REFERENCE,
    "candidate": CANDIDATE,
    "accelerated": CANDIDATE,
    "bound": BOUND,
    "oracle": BOUND,
    "upper_bound": BOUND,
}
BOUND_NAMES = frozenset({"oracle"})


def _declared(run: Run) -> dict[str, Any]:
    system = run.manifest.get("system") or {}
    config_system = (run.manifest.get("config") or {}).get("system") or {}
    for place in (run.scores, system, config_system):
        roles = place.get("roles") if isinstance(place, dict) else None
        if isinstance(roles, dict) and roles:
            return roles
    return {}


def _described_as_bound(run: Run, variant: str) -> bool:
    described = ((run.manifest.get("system") or {}).get("variants") or {}).get(variant)
    if not isinstance(described, dict):
        return False
    parts = [described] + [p for p in described.values() if isinstance(p, dict)]
    return any(str(p.get(k, "")) in BOUND_NAMES for p in parts for k in ("kind", "engine"))


def role(run: Run, variant: str) -> str:
    """The role of ``variant`` in ``run``: "reference", "candidate" or "bound"."""
    declared = _declared(run)
    if variant in declared:
        name = str(declared[variant]).lower()
        if name not in ROLE_ALIASES:
            raise RunStoreError(
                f"{run.path}: roles.{variant} is {declared[variant]!r}; "
                f"expected one of {', '.join(sorted(ROLE_ALIASES))}"
            )
        return ROLE_ALIASES[name]
    if variant == run.reference:
        return REFERENCE
    if variant in BOUND_NAMES or _described_as_bound(run, variant):
        return BOUND
    return CANDIDATE


def candidates(run: Run, suite: str) -> list[str]:
    """The accelerated variants of ``suite`` (no reference, no bound), in the run's order."""
    return in_run_order(run, [v for v in run.variants(suite) if role(run, v) == CANDIDATE])


def bounds(run: Run, suite: str) -> list[str]:
    """The bound (oracle) variants of ``suite``."""
    return [v for v in run.variants(suite) if role(run, v) == BOUND]


def in_run_order(run: Run, names: set[str] | list[str]) -> list[str]:
    """``names`` in the order the run's config lists its variants, then by name."""
    config_system = (run.manifest.get("config") or {}).get("system") or {}
    declared = config_system.get("variants") or (run.manifest.get("system") or {}).get("variants")
    listed = [str(v) for v in (declared or [])]
    return [v for v in listed if v in names] + sorted(set(names) - set(listed))

"""Claims files: what must hold in a run, parsed with the file and line of every claim.

A claims file is YAML::

    description: Hyper-Bagel claims           # optional
    confidence: 0.95                          # optional, interval level (default 0.95)
    resamples: 10000                          # optional, bootstrap resamples (default 10,000)
    seed: 0                                   # optional, bootstrap seed (default 0)
    max_errors: 0                             # optional, errored samples a claim tolerates
    claims:
      - {suite: understanding, variant: spec, check: exact_match, op: "==", value: 1.0}
      - {suite: latency, workload: t2i, variant: nfe6, check: speedup, op: ">=", value: 15}
      - {suite: geneval, variant: nfe6, check: diff_ci_low, metric: correct,
         group_by: tag, op: ">=", value: -0.01}

Keys of a claim: ``suite``, ``variant``, ``check``, ``op``, ``value`` (required) and
``metric``, ``reference``, ``workload``, ``where``, ``group_by``, ``field``, ``name``,
``rule`` (optional; ``rule: sequential`` decides a timing claim block by block, see
docs/gate.md; ``min_blocks`` / ``max_blocks`` at file level, defaults 2 / 6); :mod:`hbench.harness.gate` documents the checks. This module checks the
structure only; names that depend on the run (suites, variants, metrics) are resolved
by the gate against the run store, with the same ``file:line`` in its errors.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_yaml import ConfigError, parse_yaml
from .statistics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED


class ClaimsError(ValueError):
    """A claims file that cannot be used; the message names the file and line."""


def _equal(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": _equal,
}
REQUIRED_KEYS = ("suite", "variant", "check", "op", "value")
OPTIONAL_KEYS = ("metric", "reference", "workload", "where", "group_by", "field", "name", "rule")
FILE_KEYS = ("description", "confidence", "resamples", "seed", "max_errors", "min_blocks",
             "max_blocks", "claims")  # fmt: skip
RULES = ("fixed", "sequential")  # sequential: the noise-aware rule of timing claims


@dataclass(frozen=True)
class Claim:
    """One statement about a run: ``<check>(suite, variant[, metric]) <op> <value>``."""

    suite: str
    variant: str
    check: str
    op: str
    value: float
    metric: str | None = None
    reference: str | None = None
    where: tuple[tuple[str, str], ...] = ()  # details filters; ``workload: x`` adds one
    group_by: str | None = None
    field: str | None = None
    name: str | None = None
    rule: str = "fixed"
    source: str = "<memory>"
    line: int = 0

    @property
    def location(self) -> str:
        """``file:line`` of the claim."""
        return f"{self.source}:{self.line}" if self.line else self.source

    @property
    def label(self) -> str:
        """Short human name, e.g. ``latency[workload=t2i]/nfe6 speedup``."""
        if self.name:
            return self.name
        filters = ",".join(f"{k}={v}" for k, v in self.where)
        scope = f"{self.suite}[{filters}]" if filters else self.suite
        metric = f"({self.metric})" if self.metric else ""
        return f"{scope}/{self.variant} {self.check}{metric}"

    def holds(self, measured: float) -> bool:
        """Whether ``measured <op> value``."""
        return OPS[self.op](measured, self.value)


@dataclass(frozen=True)
class ClaimsFile:
    """A parsed claims file."""

    claims: tuple[Claim, ...]
    source: str = "<memory>"
    description: str = ""
    confidence: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    max_errors: int = 0
    min_blocks: int = 2  # sequential rule: first look after this many blocks
    max_blocks: int = 6  # sequential rule: inconclusive once this many are undecided
    extra: dict[str, Any] = field(default_factory=dict)


def load_claims(path: str | Path) -> ClaimsFile:
    """Read and parse a claims file.

    Raises:
        ClaimsError: Unreadable file, invalid YAML, or invalid claims (all listed).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ClaimsError(f"{source}: cannot read claims file: {err.strerror}") from err
    return parse_claims(text, source)


def parse_claims(text: str, source: str = "<memory>") -> ClaimsFile:
    """Parse claims YAML; every problem found is reported with its ``file:line``.

    Examples:
        >>> cf = parse_claims('claims:\\n  - {suite: s, variant: v, check: nfe, op: "==", value: 6}')
        >>> cf.claims[0].label, cf.claims[0].location, cf.claims[0].holds(6)
        ('s/v nfe', '<memory>:2', True)
    """
    try:
        data, loc = parse_yaml(text, source)
    except ConfigError as err:
        raise ClaimsError(str(err)) from err
    errors: list[str] = []
    if isinstance(data, list):  # a bare list of claims is accepted too
        data, claims_path = {"claims": data}, ()
    else:
        claims_path = ("claims",)
    if not isinstance(data, dict):
        raise ClaimsError(f"{source}: a claims file is a mapping with a 'claims' list")
    for key in data:
        if key not in FILE_KEYS:
            errors.append(
                f"{loc.where((key,))}: unknown key {key!r}; allowed: {', '.join(FILE_KEYS)}"
            )
    settings = _file_settings(data, loc, errors)
    raw = data.get("claims")
    if not isinstance(raw, list) or not raw:
        errors.append(f"{loc.where(claims_path)}: 'claims' must be a non-empty list")
        raw = []
    claims = []
    for i, entry in enumerate(raw):
        path = (*claims_path, str(i))
        claim = _parse_claim(entry, path, loc, source, errors)
        if claim is not None:
            claims.append(claim)
    if errors:
        raise ClaimsError("\n".join(errors))
    return ClaimsFile(claims=tuple(claims), source=source, **settings)


def _file_settings(data: dict[str, Any], loc: Any, errors: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    conf = data.get("confidence", DEFAULT_CONFIDENCE)
    if not _is_number(conf) or not 0 < conf < 1:
        errors.append(f"{loc.where(('confidence',))}: confidence must be in (0, 1), got {conf!r}")
    else:
        out["confidence"] = float(conf)
    for key, default, low in (
        ("resamples", DEFAULT_RESAMPLES, 1),
        ("seed", DEFAULT_SEED, 0),
        ("max_errors", 0, 0),
        ("min_blocks", 2, 1),
        ("max_blocks", 6, 1),
    ):
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            errors.append(f"{loc.where((key,))}: {key} must be an integer >= {low}, got {value!r}")
        else:
            out[key] = value
    out["description"] = str(data.get("description") or "")
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_claim(
    entry: Any, path: tuple[str, ...], loc: Any, source: str, errors: list[str]
) -> Claim | None:
    where = loc.where(path)
    line = int(where.rsplit(":", 1)[1]) if where != source else 0
    if not isinstance(entry, dict):
        errors.append(f"{where}: a claim is a mapping, got {type(entry).__name__}")
        return None
    before = len(errors)
    for key in entry:
        if key not in REQUIRED_KEYS + OPTIONAL_KEYS:
            allowed = ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS)
            errors.append(
                f"{loc.where((*path, key))}: unknown claim key {key!r}; allowed: {allowed}"
            )
    missing = [k for k in REQUIRED_KEYS if k not in entry]
    if missing:
        errors.append(f"{where}: claim is missing {', '.join(missing)}")
    for key in ("suite", "variant", "check", *OPTIONAL_KEYS):
        if key in entry and key != "where" and not isinstance(entry[key], str):
            errors.append(f"{loc.where((*path, key))}: {key} must be a string, got {entry[key]!r}")
    if "op" in entry and entry["op"] not in OPS:
        errors.append(
            f"{loc.where((*path, 'op'))}: unknown op {entry['op']!r}; use one of {', '.join(OPS)}"
        )
    if entry.get("rule", "fixed") not in RULES:
        errors.append(
            f"{loc.where((*path, 'rule'))}: unknown rule {entry['rule']!r}; use one of {', '.join(RULES)}"
        )
    if "value" in entry and not _is_number(entry["value"]):
        errors.append(
            f"{loc.where((*path, 'value'))}: value must be a finite number, got {entry['value']!r}"
        )
    filters = entry.get("where") or {}
    if not isinstance(filters, dict) or not all(
        isinstance(v, (str, int)) for v in filters.values()
    ):
        errors.append(f"{loc.where((*path, 'where'))}: where must map detail names to values")
        filters = {}
    if "workload" in entry:
        filters = {**filters, "workload": entry["workload"]}
    if len(errors) > before:
        return None
    return Claim(
        suite=entry["suite"],
        variant=entry["variant"],
        check=entry["check"],
        op=entry["op"],
        value=float(entry["value"]),
        metric=entry.get("metric"),
        reference=entry.get("reference"),
        where=tuple(sorted((str(k), str(v)) for k, v in filters.items())),
        group_by=entry.get("group_by"),
        field=entry.get("field"),
        name=entry.get("name"),
        rule=entry.get("rule", "fixed"),
        source=source,
        line=line,
    )

"""The validated run configuration: the system, suite and metric specs of one run.

Built by :mod:`hbench.harness.config` from a checked YAML file; ``RunConfig.to_dict`` is the
resolved config written into the run store.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class SystemSpec:
    """The family under test and the variants to compare."""

    family: str
    variants: tuple[str, ...]
    reference: str
    options: Any  # the family's Options dataclass instance
    variant_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)  # variant -> Options with overrides
    bounds: tuple[str, ...] = ()  # oracles / upper bounds: quality rows only (DESIGN.md roles)

    def role(self, variant: str) -> str:
        """``reference``, ``bound`` or ``candidate`` (DESIGN.md, "Variant roles")."""
        if variant == self.reference:
            return "reference"
        return "bound" if variant in self.bounds else "candidate"

    def options_for(self, variant: str) -> Any:
        """The family options of one variant (``options`` with that variant's overrides)."""
        return self.resolved.get(variant, self.options)


@dataclass(frozen=True)
class SuiteSpec:
    """One suite instance, its validated parameters and the variants it runs.

    ``name`` is the instance's key in the config (records and scores use it); ``kind`` is
    the registered suite it instantiates (``suite:`` in the config, default: the key), so
    one suite can run twice with different parameters.
    """

    name: str
    params: Any  # the suite's Config dataclass instance
    variants: tuple[str, ...]
    kind: str = ""
    allow_errors: bool = False  # a run whose every sample of this suite failed still passes

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", self.name)


@dataclass(frozen=True)
class MetricSpec:
    """One image metric of the post-pass, its validated options and the suites it scores.

    ``name`` is the metric's key in the config (the per-sample value is recorded under it);
    ``kind`` is the registered metric (``metric:`` in the config, default: the key).
    """

    name: str
    params: Any  # the metric's Options dataclass instance
    suites: tuple[str, ...]
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", self.name)


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration."""

    system: SystemSpec
    suites: tuple[SuiteSpec, ...]
    out: str | None = None
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    seed: int = 0
    kernels: Literal["auto", "triton", "reference"] = "auto"
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    count_flops: bool = False  # record cost.flops per sample (not in timing suites)
    source: str = "<memory>"
    metrics: tuple[MetricSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able resolved config (every default filled in)."""
        out = {
            "out": self.out,
            "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed,
            "kernels": self.kernels,
            "threads": self.threads,
            "count_flops": self.count_flops,
            "system": {
                "family": self.system.family,
                "reference": self.system.reference,
                "bounds": list(self.system.bounds),
                "variants": list(self.system.variants),
                "options": _jsonable(self.system.options),
                "variant_options": self.system.variant_options,
            },
            "suites": {
                s.name: {
                    "suite": s.kind,
                    **_jsonable(s.params),
                    "variants": list(s.variants),
                    **({"allow_errors": True} if s.allow_errors else {}),
                }
                for s in self.suites
            },
        }
        if self.metrics:
            out["metrics"] = {
                m.name: {"metric": m.kind, **_jsonable(m.params), "suites": list(m.suites)}
                for m in self.metrics
            }
        return out


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj

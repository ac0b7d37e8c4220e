"""The Suite contract: samples -> system calls -> per-sample records -> scores.

The runner drives every suite the same way::

    for item in suite.items(run_seed):          # sorted, stable sample ids
        for variant in variants:                 # interleaved A B A B ...
            output = suite.infer(system, item)   # timed and hooked by the profiler
            result = suite.evaluate(item, output, artifacts)   # not timed
            store.append(record)                 # one JSON line, flushed

and at the end ``suite.summarize(records_of_one_variant)`` per variant plus
``suite.compare(reference_records, other_records)`` for each accelerated variant.
Suites see systems only through :mod:`hbench.harness.system`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .comparisons import TIME_METRICS, SuiteMeta
from .protocol import ProtocolCard
from .system import System


@dataclass(frozen=True)
class Item:
    """One sample of a suite. ``seed`` depends only on (run seed, suite, sample id)."""

    sample: str
    seed: int
    data: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class SampleResult:
    """What ``Suite.evaluate`` returns: JSON-able output, numeric metrics, extras."""

    output: dict[str, Any]
    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


class Artifacts(ABC):
    """Where a suite writes files for one (suite, variant); paths are relative to the run."""

    @abstractmethod
    def save_image(self, item: Item, image: Any, tag: str = "") -> str:
        """Save a PIL image for ``item``; returns its path relative to the run directory."""

    @abstractmethod
    def path(self, *parts: str) -> Path:
        """An absolute path under this suite/variant's folder (parents created)."""


def sample_seed(run_seed: int, suite: str, sample: str) -> int:
    """Deterministic 31-bit seed from the run seed, suite and sample id (never the rank)."""
    digest = hashlib.sha256(f"{run_seed}/{suite}/{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class Suite(ABC):
    """Base class of suites; subclasses set the class constants and the four methods."""

    name: ClassVar[str]
    capability: ClassVar[str]  # system capability the suite needs
    Config: ClassVar[type]  # dataclass of the suite's parameters
    primary_metric: ClassVar[str]  # the headline per-sample metric (e.g. "correct")
    shardable: ClassVar[bool] = True  # False for timing suites: they run on rank 0 only
    # True: ``summarize`` gets the errored records too (and leaves them out itself), for
    # scores that must know what failed (MME acc+: an image with a failed question).
    summarize_errors: ClassVar[bool] = False
    # Declared in scores.json so renderers never key on a suite's configured name:
    group_field: ClassVar[str | None] = None  # per-sample label its samples group by
    group_kind: ClassVar[str] = "strata"  # "strata": headline = mean over groups; "workload"
    lower_is_better: ClassVar[tuple[str, ...]] = ()  # quality metrics where lower is better
    report_metrics: ClassVar[tuple[str, ...]] = ()  # per-group report tables (default: primary)

    def __init__(self, config: Any) -> None:
        self.config = config

    def meta(self) -> SuiteMeta:
        """What the suite declares about its records (primary metric, grouping, direction)."""
        primary = None if self.primary_metric in TIME_METRICS else self.primary_metric
        shown = self.report_metrics or ((primary,) if primary else ())
        return SuiteMeta(primary, self.group_field, self.group_kind, self.lower_is_better, shown)

    def required_capabilities(self) -> frozenset[str]:
        """System capabilities every variant of this suite needs (checked before loading)."""
        return frozenset({self.capability}) if self.capability else frozenset()

    @abstractmethod
    def items(self, run_seed: int) -> list[Item]:
        """The suite's samples, in a stable sorted order."""

    def warmup_items(self, run_seed: int) -> list[Item]:
        """Items run once per variant before measurement and never recorded."""
        return []

    @abstractmethod
    def infer(self, system: System, item: Item) -> Any:
        """Call the system for one item: model work only (this is what gets timed)."""

    @abstractmethod
    def evaluate(self, item: Item, output: Any, artifacts: Artifacts) -> SampleResult:
        """Score one output and save its artifacts (not timed)."""

    @abstractmethod
    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Aggregate the records of one variant into the suite's scores."""

    def export(self, records: list[dict[str, Any]], artifacts: Artifacts, variant: str) -> None:  # noqa: B027 - optional hook
        """Write official-format result files for one variant (e.g. GEdit's csv); optional."""

    def compare(
        self, reference: list[dict[str, Any]], other: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Suite-specific paired comparison of two variants (beyond the generic deltas)."""
        return {}

    def protocol_card(self) -> ProtocolCard | None:
        """The protocol profile this suite runs under and whether its numbers are comparable
        with the published ones (None: the suite has no published counterpart)."""
        return None

    def preflight(self) -> dict[str, Any] | None:
        """A check run before any sample (e.g. a detector self-check); its JSON-able result
        goes into the manifest. Raise :class:`~.protocol.PreflightError` to refuse the run."""
        return None

"""Named evaluation protocols: what a suite's numbers can be compared with.

A suite can run under several *protocol profiles* (``protocol:`` in its config): at least
``official`` (the benchmark's or BAGEL's published protocol, quirks included) and ``strict``
(hbench's cleaner rules). Each suite keeps its profiles in a :class:`~.registry.Registry`
of its own; this module holds what every suite reports about the chosen one, the
:class:`ProtocolCard` that the manifest and ``scores.json`` record and every report table
prints (is the number comparable with the published one, and if not, why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OFFICIAL = "official"
STRICT = "strict"


@dataclass(frozen=True)
class ProtocolCard:
    """The protocol a suite ran under and whether its numbers match the published ones.

    Attributes:
        protocol: the profile name (``official``, ``strict`` ...).
        comparable: True when the headline can be set beside the published figure.
        why: one sentence: what makes it comparable, or what differs.
        follows: the official ``file:line`` references the profile reproduces.
        headline: the score key that is the published headline (e.g. ``circular_accuracy``).
    """

    protocol: str
    comparable: bool
    why: str
    follows: tuple[str, ...] = ()
    headline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the manifest and ``scores.json``."""
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "comparable": self.comparable,
            "why": self.why,
            "follows": list(self.follows),
        }
        if self.headline:
            out["headline"] = self.headline
        return out


class PreflightError(RuntimeError):
    """A suite refuses to score (its check before the run failed); one-line message.

    ``record`` holds the check's measurements, which the runner writes to the manifest.
    """

    def __init__(self, message: str, record: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.record = dict(record or {})

"""A test plugin: the shapes family with a planted slowdown of one variant's system calls.

``SlowShapesFamily`` builds the shapes variants unchanged, except that the planted variant
(``spec`` by default) sleeps ``factor`` times the duration of every system call after making
it, so its wall clock grows by exactly that fraction while its outputs and counters stay the
same. The power measurement of the timing gate (tests/benchmarks/gate_power.py) uses it as
the regression a wall-clock claim must catch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from hbench.baselines.shapes.family import ShapesFamily, ShapesSystem

CALLS = ("understand", "generate", "edit")


class SlowedSystem:
    """Delegates to ``inner``; its :data:`CALLS` take ``1 + factor`` times as long."""

    def __init__(self, inner: ShapesSystem, factor: float) -> None:
        self._inner = inner
        self._factor = factor

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        return self._slowed(attr) if name in CALLS else attr

    def _slowed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def slowed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            out = call(*args, **kwargs)
            time.sleep(self._factor * (time.perf_counter() - start))
            return out

        return slowed


def slow_family(variant: str = "spec", factor: float = 0.3) -> type[ShapesFamily]:
    """A shapes family class whose ``variant`` runs ``1 + factor`` times slower."""

    class SlowShapesFamily(ShapesFamily):
        planted: ClassVar[tuple[str, float]] = (variant, factor)

        @classmethod
        def build(cls, name: str, options: Any) -> Any:
            system = super().build(name, options)
            return SlowedSystem(system, factor) if name == variant else system

    return SlowShapesFamily

"""The kernel backend a run selects, reached through whatever the face wires in.

The core names no kernel module: the face (:mod:`hbench.wiring`) hands :func:`wire` a
callable returning the dispatch object (``set_backend``, ``reset_report``, ``report``); the
runner calls it when a run loads its systems. Resolving on use keeps ``import hbench`` free
of torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class KernelDispatch(Protocol):
    """What a run needs of the kernel layer: choose a backend, report what ran where."""

    def set_backend(self, mode: str) -> None: ...

    def reset_report(self) -> None: ...

    def report(self) -> dict[str, Any]: ...


_resolve: Callable[[], KernelDispatch] | None = None


def wire(resolve: Callable[[], KernelDispatch]) -> None:
    """Install the callable that returns the kernel dispatch (the face calls this once)."""
    global _resolve
    _resolve = resolve


def dispatch() -> KernelDispatch:
    """The wired kernel dispatch; a clear error when no face wired one."""
    if _resolve is None:
        raise RuntimeError(
            "no kernel backend is wired: import hbench (its package init wires hbench.kernels)"
        )
    return _resolve()

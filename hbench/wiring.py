"""The face wires the layers into the core: built-in plugins and the kernel backend.

Run once by the package init (:mod:`hbench`), so every entry point (the CLI, the library,
tests, lm-eval) sees the same registries. Nothing heavy is imported here: the registry
entries stay lazy and the kernel dispatch is resolved when a run loads its systems.
"""

from __future__ import annotations

from typing import Any

_wired = False


def _kernel_dispatch() -> Any:
    from hbench.kernels import dispatch

    return dispatch


def wire() -> None:
    """Register the built-in plugins and the kernel backend with the core (once)."""
    global _wired
    if _wired:
        return
    _wired = True
    from hbench.harness import kernel_backend, plugins

    from .builtin_plugins import register

    register(plugins)
    kernel_backend.wire(_kernel_dispatch)

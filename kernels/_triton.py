"""Optional Triton import, and whether its interpreter can run kernels in this process.

Triton is optional: a CPU-only torch build may lack it. Kernel modules import ``tl`` and
``jit`` from here so that they import (and their references run) without Triton.

Triton reads ``TRITON_INTERPRET`` when ``triton.language`` is first imported: its
standard library (``tl.sum``, ``tl.max`` ...) is compiled for the GPU or for the
interpreter at that moment. Setting the variable later does not help, which is why
:func:`interpreter_ready` checks the library itself rather than the environment.
"""

from __future__ import annotations

import os
import types

try:  # noqa: SIM105 - the reason is kept for the dispatch report
    import triton
    import triton.language as tl

    TRITON_IMPORT_ERROR: str | None = None
except ImportError as err:  # pragma: no cover - torch wheels with CUDA ship Triton
    triton = None
    # Annotations such as ``BLOCK: tl.constexpr`` are evaluated at def time.
    tl = types.SimpleNamespace(constexpr=object)  # type: ignore[assignment]
    TRITON_IMPORT_ERROR = f"{type(err).__name__}: {err}"


def jit(fn):
    """``triton.jit`` when Triton is importable; otherwise the plain function (never launched)."""
    return triton.jit(fn) if triton is not None else fn


def triton_version() -> str | None:
    """Triton's version string, or None when it is not importable."""
    return None if triton is None else triton.__version__


def interpreter_requested() -> bool:
    """Whether ``TRITON_INTERPRET`` asks for the interpreter (the variable as Triton parses it)."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in {"1", "true", "on", "yes"}


def interpreter_ready() -> bool:
    """Whether Triton kernels can run on CPU tensors in this process.

    True only if Triton imported its language while ``TRITON_INTERPRET=1`` was set, so
    that ``tl.sum`` and friends are interpreter functions.
    """
    if triton is None or not interpreter_requested():
        return False
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(tl.standard.sum, InterpretedFunction)


def check_out(op: str, name: str, out, shape, dtype, device) -> None:
    """Validate a caller-provided output buffer.

    Raises:
        ValueError: ``out`` is not a contiguous tensor of the expected shape/dtype/device.
    """
    if (
        tuple(out.shape) != tuple(shape)
        or out.dtype != dtype
        or out.device != device
        or not out.is_contiguous()
    ):
        raise ValueError(
            f"{op}: {name} must be a contiguous {tuple(shape)} {dtype} tensor on {device}, got "
            f"{tuple(out.shape)} {out.dtype} on {out.device} (contiguous={out.is_contiguous()})"
        )

"""Pick Triton or the PyTorch reference for each kernel call, and record the choice.

Modes:

* ``"auto"`` (default): Triton when every tensor is on CUDA, Triton imports and the op
  supports the inputs; the reference otherwise. Every reference choice is recorded with
  its reason; a fallback on CUDA tensors also warns once per (op, reason).
* ``"triton"``: Triton or an error. On CPU tensors this works only under the Triton
  interpreter (``TRITON_INTERPRET=1`` set before Triton was imported): tests use it.
* ``"reference"``: always the PyTorch reference (benchmarks' baseline, debugging).

The choice is made per call, so a forced mode is a context (``with use_backend("triton"):``)
or a process default (``set_backend``). :func:`report` returns what ran, for the manifest.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Literal, get_args

import torch

from . import _triton

Mode = Literal["auto", "triton", "reference"]
MODES: tuple[str, ...] = get_args(Mode)


def check_mode(mode: str) -> Mode:
    """Validate a backend mode string.

    Raises:
        ValueError: ``mode`` is not one of ``auto``, ``triton``, ``reference``.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown kernel backend {mode!r}. Available: {', '.join(MODES)}")
    return mode  # type: ignore[return-value]


class Dispatcher:
    """Backend choice (a context-local override over a default) and a tally of what ran."""

    def __init__(self, mode: Mode = "auto") -> None:
        self._default: Mode = check_mode(mode)
        self._override: contextvars.ContextVar[Mode | None] = contextvars.ContextVar(
            f"hbench_kernel_backend_{id(self)}", default=None
        )
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._fallbacks: dict[tuple[str, str], int] = {}
        self._warned: set[tuple[str, str]] = set()

    @property
    def mode(self) -> Mode:
        """The mode in force here: the innermost ``use`` context, else the default."""
        override = self._override.get()
        return self._default if override is None else override

    def set_default(self, mode: str) -> None:
        """Set the process-wide default mode (a config's ``kernels.backend``)."""
        self._default = check_mode(mode)

    @contextlib.contextmanager
    def use(self, mode: str) -> Iterator[None]:
        """Force ``mode`` inside the ``with`` block (this thread / task only)."""
        token = self._override.set(check_mode(mode))
        try:
            yield
        finally:
            self._override.reset(token)

    def choose(
        self, op: str, tensors: Sequence[torch.Tensor], unsupported: str | None = None
    ) -> Literal["triton", "reference"]:
        """Return the backend for one call of ``op`` and record it.

        Args:
            op: Kernel name, e.g. ``"rmsnorm"``.
            tensors: The op's tensor inputs (all on one device).
            unsupported: Why the Triton kernel cannot take these inputs, or None.

        Raises:
            ValueError: Tensors on more than one device.
            RuntimeError: Mode ``"triton"`` but Triton cannot run these inputs here.
        """
        devices = {t.device.type for t in tensors}
        if len(devices) > 1:
            raise ValueError(
                f"{op}: tensors on several devices {sorted(devices)}; move them to one"
            )
        device = devices.pop() if devices else "cpu"
        mode = self.mode
        if mode == "reference":
            return self._record(op, "reference")
        why_not = self._why_not_triton(device, unsupported)
        if why_not is None:
            return self._record(op, "triton")
        if mode == "triton":
            raise RuntimeError(f"{op}: kernel backend 'triton' was forced but {why_not}")
        return self._record(op, "reference", fallback=why_not, warn=device == "cuda")

    def _why_not_triton(self, device: str, unsupported: str | None) -> str | None:
        if _triton.TRITON_IMPORT_ERROR is not None:
            return f"Triton is not importable ({_triton.TRITON_IMPORT_ERROR})"
        if unsupported is not None:
            return unsupported
        interpreting = _triton.interpreter_ready()
        if device == "cuda":
            if interpreting and self.mode == "auto":
                return "TRITON_INTERPRET=1 is set (the interpreter copies CUDA tensors to the host)"
            return None
        if device == "cpu" and interpreting and self.mode == "triton":
            return None
        if device == "cpu" and self.mode == "triton":
            return (
                "the tensors are on cpu and the Triton interpreter is not active "
                "(set TRITON_INTERPRET=1 before anything imports triton)"
            )
        return f"the tensors are on {device} (Triton kernels run on cuda)"

    def _record(
        self, op: str, backend: str, fallback: str | None = None, warn: bool = False
    ) -> Literal["triton", "reference"]:
        with self._lock:
            key = (op, backend)
            self._counts[key] = self._counts.get(key, 0) + 1
            if fallback is not None:
                fkey = (op, fallback)
                self._fallbacks[fkey] = self._fallbacks.get(fkey, 0) + 1
                if warn and fkey not in self._warned:
                    self._warned.add(fkey)
                    warnings.warn(
                        f"{op}: using the PyTorch reference on CUDA because {fallback}",
                        RuntimeWarning,
                        stacklevel=4,
                    )
        return backend  # type: ignore[return-value]

    def report(self) -> dict:
        """What ran so far: mode, Triton status, per-op backend counts, fallbacks with reasons."""
        with self._lock:
            ops: dict[str, dict[str, int]] = {}
            for (op, backend), n in sorted(self._counts.items()):
                ops.setdefault(op, {})[backend] = n
            fallbacks = [
                {"op": op, "reason": reason, "calls": n}
                for (op, reason), n in sorted(self._fallbacks.items())
            ]
        return {
            "mode": self.mode,
            "triton": {
                "available": _triton.TRITON_IMPORT_ERROR is None,
                "version": _triton.triton_version(),
                "import_error": _triton.TRITON_IMPORT_ERROR,
                "interpreter": _triton.interpreter_ready(),
            },
            "cuda": torch.cuda.is_available(),
            "ops": ops,
            "fallbacks": fallbacks,
        }

    def reset(self) -> None:
        """Forget the tally (the mode is kept)."""
        with self._lock:
            self._counts.clear()
            self._fallbacks.clear()
            self._warned.clear()


# The process-wide dispatcher that the public ops use. A run sets its mode from the config
# and copies report() into its manifest; tests force modes with use_backend.
DISPATCHER = Dispatcher()


def use_backend(mode: str) -> contextlib.AbstractContextManager[None]:
    """Force ``"auto"``, ``"triton"`` or ``"reference"`` for the ops called in the block."""
    return DISPATCHER.use(mode)


def set_backend(mode: str) -> None:
    """Set the default backend mode of the process-wide dispatcher."""
    DISPATCHER.set_default(mode)


def get_backend() -> Mode:
    """The backend mode in force for the caller."""
    return DISPATCHER.mode


def choose(
    op: str, tensors: Sequence[torch.Tensor], unsupported: str | None = None
) -> Literal["triton", "reference"]:
    """Choose (and record) the backend of one op call on the process-wide dispatcher."""
    return DISPATCHER.choose(op, tensors, unsupported)


def report() -> dict:
    """The process-wide dispatcher's report (a JSON-ready dict for ``manifest.json``)."""
    return DISPATCHER.report()


def reset_report() -> None:
    """Clear the process-wide tally (a run calls this at its start)."""
    DISPATCHER.reset()

"""Profiler primitives: timers, NFE counting by forward hooks, peak memory, overhead.

All timing in hbench goes through here. On CUDA, wall time is taken between
``torch.cuda.synchronize()`` calls and module time with CUDA events; elsewhere with
``time.perf_counter``. NFE is counted, never declared: a forward hook on each module a
system exposes records the call and its batch rows (DESIGN.md: a CFG step whose
conditional and unconditional branches run in one batched call is 2 NFE, 1 merged call).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from .system import GENERATOR


def synchronize(device: str | torch.device | None) -> None:
    """Wait for queued CUDA work when ``device`` is a CUDA device."""
    if device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(torch.device(device))


class Timer:
    """Wall-clock timer that synchronises CUDA before reading the clock."""

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = device
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        synchronize(self.device)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._t0


def _batch_rows(args: tuple, kwargs: dict) -> int:
    """Batch size of a forward call: dim 0 of its first tensor argument."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return 1


@dataclass
class ModuleStats:
    """Forward calls, batch rows (evaluations) and seconds of one hooked module."""

    calls: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    _events: list = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "evaluations": self.evaluations, "seconds": self.seconds}


class ForwardCounter:
    """Forward hooks on role -> module; counts calls and rows and times outermost calls."""

    def __init__(self, modules: dict[str, torch.nn.Module], device: str | None = None) -> None:
        self.modules = modules
        self.cuda = (
            device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available()
        )
        self.stats: dict[str, ModuleStats] = {role: ModuleStats() for role in modules}
        self._handles: list[Any] = []
        self._depth = 0
        self._start: Any = None

    def __enter__(self) -> ForwardCounter:
        for role, module in self.modules.items():
            self._handles.append(
                module.register_forward_pre_hook(self._pre(role), with_kwargs=True)
            )
            self._handles.append(module.register_forward_hook(self._post(role), always_call=True))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        if self.cuda:
            torch.cuda.synchronize()
            for st in self.stats.values():
                st.seconds += sum(a.elapsed_time(b) / 1000.0 for a, b in st._events)
                st._events.clear()

    def _pre(self, role: str):
        def hook(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
            st = self.stats[role]
            st.calls += 1
            st.evaluations += _batch_rows(args, kwargs)
            self._depth += 1
            if self._depth == 1:
                if self.cuda:
                    self._start = torch.cuda.Event(enable_timing=True)
                    self._start.record()
                else:
                    self._start = time.perf_counter()

        return hook

    def _post(self, role: str):
        def hook(module: torch.nn.Module, args: tuple, output: Any) -> None:
            self._depth -= 1
            if self._depth == 0:
                st = self.stats[role]
                if self.cuda:
                    end = torch.cuda.Event(enable_timing=True)
                    end.record()
                    st._events.append((self._start, end))
                else:
                    st.seconds += time.perf_counter() - self._start

        return hook

    @property
    def model_seconds(self) -> float:
        return sum(st.seconds for st in self.stats.values())


# ------------------------------------------------------------------ memory


def _reset_rss_peak() -> bool:
    # Linux: writing 5 to clear_refs resets the VmHWM peak-RSS counter of this process.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _rss_peak_bytes() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Peak CUDA allocator memory on CUDA, else the process's peak resident set size."""

    def __init__(self, device: str | None) -> None:
        self.cuda = (
            device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available()
        )
        self.device = device
        self.peak_bytes = 0
        self.kind = "cuda" if self.cuda else "rss"

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.kind = "rss" if _reset_rss_peak() else "rss-lifetime"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            self.peak_bytes = int(torch.cuda.max_memory_allocated(self.device))
        else:
            self.peak_bytes = _rss_peak_bytes()


# ------------------------------------------------------------------ one profiled sample


@dataclass
class SampleProfile:
    """What :func:`profile_sample` measured for one system call."""

    seconds: float = 0.0
    modules: dict[str, ModuleStats] = field(default_factory=dict)
    peak_memory_bytes: int = 0
    memory_kind: str = "rss"
    stages: dict[str, float] = field(default_factory=dict)
    flops: int | None = None  # FlopCounterMode total, when counting was asked for

    @property
    def model_seconds(self) -> float:
        return sum(st.seconds for st in self.modules.values())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seconds": self.seconds,
            "model_seconds": self.model_seconds,
            "overhead_seconds": max(0.0, self.seconds - self.model_seconds),
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory_kind": self.memory_kind,
            "modules": {role: st.to_dict() for role, st in self.modules.items()},
            "stages": self.stages,
        }
        # NFE is a property of image samples: a text sample of a system that also has a
        # generator never calls it, and "0 NFE" there would read as a (very fast) sampler.
        if GENERATOR in self.modules and self.modules[GENERATOR].calls:
            out["nfe"] = self.modules[GENERATOR].evaluations
            out["merged_calls"] = self.modules[GENERATOR].calls
        if self.flops is not None:
            out["flops"] = self.flops
        return out


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def profile_sample(
    modules: dict[str, torch.nn.Module], device: str | None = None, count_flops: bool = False
) -> Iterator[SampleProfile]:
    """Profile the system call made inside the ``with`` block.

    With ``count_flops`` the call also runs under ``torch.utils.flop_counter.FlopCounterMode``
    (matmul / convolution / attention FLOPs of every op in the call, hooked networks
    included); that slows the call, so timing suites never ask for it.

    >>> lin = torch.nn.Linear(2, 2)
    >>> with profile_sample({"generator": lin}) as prof:
    ...     _ = lin(torch.zeros(3, 2)); _ = lin(torch.zeros(3, 2))
    >>> prof.to_dict()["nfe"], prof.to_dict()["merged_calls"]
    (6, 2)
    """
    prof = SampleProfile()
    counter = ForwardCounter(modules, device)
    mem = PeakMemory(device)
    timer = Timer(device)
    flop_mode = None
    if count_flops:
        from torch.utils.flop_counter import FlopCounterMode

        flop_mode = FlopCounterMode(display=False)
    with mem, counter, timer, flop_mode if flop_mode is not None else _nothing():
        yield prof
    if flop_mode is not None:
        prof.flops = int(flop_mode.get_total_flops())
    prof.seconds = timer.seconds
    prof.modules = counter.stats
    prof.peak_memory_bytes = mem.peak_bytes
    prof.memory_kind = mem.kind

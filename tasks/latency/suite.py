"""The latency suite: time, NFE and memory of each variant on fixed workloads.

Workloads: ``understanding`` (one image + prompt, greedy ``understand``), ``t2i``
(``generate``) and ``edit`` (``edit``). Each of ``samples`` inputs per workload is timed
``repeats`` times; sample ids are ``<workload>/<index>/r<repeat>`` and all repeats of an
input share its seed, so every repeat does the same work. Items are ordered repeat-major
(all inputs once, then again), and the runner interleaves variants per item (A B A B ...),
so machine drift hits every variant alike. ``warmup`` calls per workload and variant run
before measurement and are never recorded (the runner calls :meth:`warmup_items`).

``infer`` makes exactly one system call, timed with :class:`hbench.harness.profiler.Timer`
(CUDA-synchronised when the system's modules live on CUDA); the runner's profiler wraps it
and counts NFE by hooks. With ``trace_dir`` set, the last warm-up call of each workload and
variant runs under ``torch.profiler`` and is exported as a Chrome trace (never a timed call).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hbench.harness.profiler import Timer
from hbench.harness.suite import Artifacts, Item, SampleResult, Suite, sample_seed
from hbench.harness.system import EDIT, GENERATE, UNDERSTAND, System, TextOutput, require

from . import summary
from .inputs import WORKLOAD_NAMES, load_inputs

SUITE_NAME = "latency"


@dataclass(frozen=True)
class Workload:
    """A workload: the capability it needs and its one system call."""

    capability: str
    call: Callable[[System, Item], Any]


def _understand(system: System, item: Item) -> Any:
    d = item.data["input"]
    return system.understand(d["images"], d["prompt"], d["max_new_tokens"])


def _generate(system: System, item: Item) -> Any:
    return system.generate(item.data["input"]["prompt"], item.seed)


def _edit(system: System, item: Item) -> Any:
    d = item.data["input"]
    return system.edit(d["image"], d["instruction"], item.seed)


WORKLOADS: dict[str, Workload] = {
    "understanding": Workload(UNDERSTAND, _understand),
    "t2i": Workload(GENERATE, _generate),
    "edit": Workload(EDIT, _edit),
}


@dataclass(frozen=True)
class LatencyConfig:
    """Parameters of the latency suite.

    Attributes:
        workloads: Which of ``understanding``, ``t2i``, ``edit`` to time.
        samples: Distinct inputs per workload.
        repeats: Timed repeats of each input (per variant).
        warmup: Untimed warm-up calls per workload and variant (never recorded).
        inputs: ``"shapes"`` (generated from the shapes world) or a JSONL file path.
        input_seed: Seed of generated inputs.
        max_new_tokens: Token budget of understanding inputs (files may override per line).
        save_images: Save generated / edited images into the run store.
        trace_dir: Export a torch.profiler Chrome trace of the last warm-up call here.
    """

    workloads: tuple[str, ...] = WORKLOAD_NAMES
    samples: int = 4
    repeats: int = 3
    warmup: int = 1
    inputs: str = "shapes"
    input_seed: int = 0
    max_new_tokens: int = 32
    save_images: bool = False
    trace_dir: str | None = None

    def __post_init__(self) -> None:
        unknown = [w for w in self.workloads if w not in WORKLOADS]
        if unknown or not self.workloads:
            raise ValueError(
                f"workloads must be a non-empty subset of {', '.join(WORKLOADS)}, got {list(self.workloads)}"
            )
        if len(set(self.workloads)) != len(self.workloads):
            raise ValueError(f"workloads has duplicates: {list(self.workloads)}")
        for name, low in (("samples", 1), ("repeats", 1), ("warmup", 0), ("max_new_tokens", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if self.trace_dir is not None and self.warmup < 1:
            raise ValueError("trace_dir needs warmup >= 1 (the trace is taken on a warm-up call)")


@dataclass(frozen=True)
class Timed:
    """``infer``'s result: the system's output and the seconds of the system call alone."""

    output: Any
    seconds: float


def _device_of(system: System) -> str | None:
    """Device of the first parameter of the system's hooked modules (None: no parameters)."""
    for module in system.profiled_modules().values():
        for param in module.parameters():
            return str(param.device)
    return None


class LatencySuite(Suite):
    """Seconds per sample, tokens/s, NFE, stages, memory; paired speedups per workload."""

    name: ClassVar[str] = SUITE_NAME
    capability: ClassVar[str | None] = None  # per workload: see required_capabilities()
    Config: ClassVar[type] = LatencyConfig
    primary_metric: ClassVar[str] = "seconds"
    group_field: ClassVar[str | None] = "workload"
    group_kind: ClassVar[str] = "workload"  # T2I and edit times are never pooled
    shardable: ClassVar[bool] = False  # one process measures; ranks would compete

    @classmethod
    def required_paths(cls, config: LatencyConfig) -> list[Any]:
        """The inputs file of ``config`` (``hbench run --check``)."""
        from hbench.harness.paths import RequiredPath

        if config.inputs == "shapes":
            return []
        return [RequiredPath("inputs", config.inputs, "latency inputs")]

    def __init__(self, config: LatencyConfig | None = None) -> None:
        super().__init__(config or LatencyConfig())
        cfg: LatencyConfig = self.config
        # Inputs are built (and validated) before any weights load.
        n = max(cfg.samples, cfg.warmup)
        self.inputs = {
            w: load_inputs(cfg.inputs, w, n, cfg.input_seed, cfg.max_new_tokens)
            for w in cfg.workloads
        }

    def required_capabilities(self) -> frozenset[str]:
        """Capabilities every variant needs for the configured workloads."""
        return frozenset(WORKLOADS[w].capability for w in self.config.workloads)

    def _item(self, run_seed: int, workload: str, index: int, repeat: int | None) -> Item:
        base = f"{workload}/{index:03d}"
        sample = base + (f"/r{repeat}" if repeat is not None else "/warmup")
        data = {
            "workload": workload,
            "index": index,
            "repeat": repeat,
            "input": self.inputs[workload][index],
        }
        return Item(sample, sample_seed(run_seed, self.name, base), data)

    def items(self, run_seed: int) -> list[Item]:
        """Repeat-major: every (workload, input) once, then the next repeat."""
        cfg: LatencyConfig = self.config
        return [
            self._item(run_seed, w, i, r)
            for r in range(cfg.repeats)
            for w in cfg.workloads
            for i in range(cfg.samples)
        ]

    def warmup_items(self, run_seed: int) -> list[Item]:
        """``warmup`` calls per workload on distinct inputs; the last one may be traced."""
        cfg: LatencyConfig = self.config
        out = []
        for w in cfg.workloads:
            for i in range(cfg.warmup):
                item = self._item(run_seed, w, i, None)
                item.data["trace"] = cfg.trace_dir is not None and i == cfg.warmup - 1
                out.append(item)
        return out

    def infer(self, system: System, item: Item) -> Timed:
        """Exactly one system call, timed; a warm-up call may be traced instead."""
        workload = WORKLOADS[item.data["workload"]]
        require(system, workload.capability)
        if item.data.get("trace"):
            return self._traced(system, item, workload)
        with Timer(_device_of(system)) as timer:
            output = workload.call(system, item)
        return Timed(output, timer.seconds)

    def _traced(self, system: System, item: Item, workload: Workload) -> Timed:
        import torch.profiler as tp  # only when tracing is asked for

        activities = [tp.ProfilerActivity.CPU]
        device = _device_of(system)
        if device is not None and device.startswith("cuda"):
            activities.append(tp.ProfilerActivity.CUDA)
        with tp.profile(activities=activities, record_shapes=True) as prof, Timer(device) as timer:
            output = workload.call(system, item)
        out = (
            Path(self.config.trace_dir)
            / f"{system.family}-{system.variant}-{item.data['workload']}.json"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(out))
        return Timed(output, timer.seconds)

    def evaluate(self, item: Item, output: Timed, artifacts: Artifacts) -> SampleResult:
        """Per-sample metrics: seconds, and for text tokens/s and the reported stages."""
        details = {
            "workload": item.data["workload"],
            "index": item.data["index"],
            "repeat": item.data["repeat"],
        }
        metrics: dict[str, float] = {"seconds": output.seconds}
        result = output.output
        if isinstance(result, TextOutput):
            tokens = len(result.token_ids) or int(result.stats.get("new_tokens", 0))
            metrics.update(new_tokens=float(tokens), tokens_per_s=tokens / output.seconds)
            for key in (*summary.TEXT_STAGES, "acceptance_length"):
                if key in result.stats:
                    metrics[key] = float(result.stats[key])
            # per draft position, kept per sample so the report can plot it (the counts
            # behind the rates too, so it can pool them over samples)
            for key in ("accept_per_position", "drafted_per_position", "accepted_per_position"):
                if isinstance(result.stats.get(key), list):
                    details[key] = [float(x) for x in result.stats[key]]
            return SampleResult(
                {"text": result.text, "token_ids": list(result.token_ids)}, metrics, details
            )
        image = result.convert("RGB")
        out: dict[str, Any] = {
            "image_sha1": hashlib.sha1(image.tobytes()).hexdigest(),
            "size": list(image.size),
        }
        if self.config.save_images:
            out["image"] = artifacts.save_image(item, image)
        return SampleResult(out, metrics, details)

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Per workload: percentiles, tokens/s, NFE, stages, overhead shares, peak memory."""
        return summary.summarize(records)

    def compare(
        self, reference: list[dict[str, Any]], other: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Per workload: Spec-Bench tokens/s ratio and output identity (speedups and NFE
        ratios are the comparison engine's per-workload entries)."""
        return summary.compare(reference, other)

"""Drive a run: build the variants, loop suites x items x variants, record, score.

Variants are interleaved per item (A B A B ...) so that slow drifts of the machine hit
every variant alike. Each finished sample is one flushed line in the run store; a killed
run restarted with ``resume=True`` skips what is already recorded.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from . import kernel_backend, plugins
from .config import RunConfig, SuiteSpec
from .config_fingerprint import config_fingerprint, describe_change, differing_keys
from .estimate import Plan, PlanRow
from .metrics_pass import build_metrics, run_metrics
from .protocol import PreflightError
from .provenance import dependency_versions, git_info
from .sample_run import run_item
from .scoring import score_run
from .store import (
    MANIFEST,
    SCORES,
    RunStore,
    RunStoreError,
    now,
    read_json_file,
    read_records,
    record_key,
)
from .store_lock import RunLock
from .suite import Item, Suite
from .system import System

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class RunError(RuntimeError):
    """A run that cannot start (bad variant/suite combination, missing weights ...)."""


# Errors a suite raises for bad parameters or input files (named with the config key).
SUITE_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError, OSError)


def build_suites(config: RunConfig) -> dict[str, Suite]:
    """Construct every suite instance; bad parameters or data name the config key."""
    out = {}
    for spec in config.suites:
        try:
            out[spec.name] = plugins.SUITES.get(spec.kind)(spec.params)
        except SUITE_INPUT_ERRORS as err:
            raise _suite_error(config, spec, err) from err
    return out


def _suite_error(config: RunConfig, spec: SuiteSpec, err: BaseException) -> RunError:
    text = str(err).replace("\n", " ") or type(err).__name__
    if isinstance(err, KeyError):
        text = f"missing key {err}"
    return RunError(f"{config.source}: suites.{spec.name}: {text}")


@dataclass(frozen=True)
class Distributed:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    barrier: Callable[[], None] | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def build_systems(config: RunConfig) -> dict[str, System]:
    """Construct (not load) every variant the config's suites use."""
    family = plugins.SYSTEMS.get(config.system.family)
    needed = [v for v in config.system.variants if any(v in s.variants for s in config.suites)]
    systems = {}
    for variant in needed:
        systems[variant] = family.build(variant, config.system.options_for(variant))
    return systems


def check_capabilities(
    config: RunConfig, systems: dict[str, System], suites: dict[str, Suite]
) -> None:
    """Fail before any weights load when a suite asks a variant for what it cannot do."""
    for spec in config.suites:
        for need in sorted(suites[spec.name].required_capabilities()):
            for variant in spec.variants:
                if need not in systems[variant].capabilities:
                    raise RunError(
                        f"suite {spec.name!r} needs {need!r} but {config.system.family}:{variant} "
                        f"supports only {', '.join(sorted(systems[variant].capabilities))}; "
                        f"set suites.{spec.name}.variants in {config.source}"
                    )


def manifest(
    config: RunConfig, systems: dict[str, System], dist: Distributed, argv: list[str]
) -> dict[str, Any]:
    """The run's manifest (see docs/run-store.md)."""
    from hbench import __version__

    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "hbench_version": __version__,
        "config_path": config.source,
        "config": config.to_dict(),
        "system": {
            "family": config.system.family,
            "reference": config.system.reference,
            "variants": {name: s.describe() for name, s in systems.items()},
        },
        "config_fingerprint": config_fingerprint(config.to_dict()),
        "seed": config.seed,
        "device": config.device,
        "dtype": config.dtype,
        "versions": dependency_versions(),
        "git": git_info(),
        "host": {
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "cuda": cuda,
            "torch_threads": torch.get_num_threads(),
        },
        "argv": argv,
        "started": now(),
        "finished": None,
        "world_size": dist.world_size,
    }


def execute(
    config: RunConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    dist: Distributed = Distributed(),
    argv: list[str] | None = None,
    progress: bool = True,
    force_config: bool = False,
    limit: int | None = None,
    calibrate: int = 0,
    on_plan: Callable[[Plan], None] | None = None,
) -> dict[str, Any] | None:
    """Run every suite of ``config`` into ``run_dir``; returns scores (main rank) or None.

    The main rank holds the run-directory lock (:mod:`hbench.harness.store_lock`) from
    before the store opens until the manifest is closed. With ``resume``, the config must
    match the manifest's (see :mod:`hbench.harness.config_fingerprint`) unless
    ``force_config``.

    ``limit`` runs only the first N samples of each suite (smoke runs). With ``on_plan``, the
    main rank calls it once the weights are loaded and before the first sample, with the
    samples per suite and variant and, when ``calibrate`` > 0, an estimate timed on that many
    samples of each suite (recorded like any other sample, so no work is lost).
    """
    # 1. Check everything that can be checked before weights load.
    systems, suites, metrics = _prepare(config)
    lock = RunLock(run_dir).acquire() if dist.is_main else None
    try:
        return _execute_locked(
            config, Path(run_dir), systems, suites, metrics, resume, dist, argv, progress,
            force_config, _PlanRequest(limit, calibrate, on_plan),
        )  # fmt: skip
    finally:
        if lock is not None:
            lock.release()


@dataclass(frozen=True)
class _PlanRequest:
    limit: int | None
    calibrate: int
    on_plan: Callable[[Plan], None] | None


def dry_run(config: RunConfig, *, limit: int | None = None, calibrate: int = 3) -> Plan:
    """Check and load everything, time ``calibrate`` samples per suite, write nothing."""
    systems, suites, _metrics = _prepare(config)
    _load(config, systems)
    with tempfile.TemporaryDirectory(prefix="hbench-dry-run-") as tmp:
        store = RunStore(tmp)
        try:
            return _plan(config, systems, suites, store, Distributed(), limit, calibrate, False)
        finally:
            store.close()


def _prepare(config: RunConfig) -> tuple[dict[str, System], dict[str, Suite], Any]:
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    systems = build_systems(config)  # missing checkouts/weights are named first
    suites = build_suites(config)
    check_capabilities(config, systems, suites)
    metrics = build_metrics(config)  # metric weight paths checked; nothing loaded yet
    return systems, suites, metrics


def _load(config: RunConfig, systems: dict[str, System]) -> None:
    kernels = kernel_backend.dispatch()
    kernels.set_backend(config.kernels)
    kernels.reset_report()
    dtype = DTYPES[config.dtype]
    for system in systems.values():
        system.load(config.device, dtype)


def _mine(
    suite: Suite, spec: SuiteSpec, config: RunConfig, dist: Distributed, limit: int | None
) -> list[Item]:
    """This rank's items of a suite (the first ``limit`` of the suite when set)."""
    try:
        items = suite.items(config.seed)[:limit]
    except SUITE_INPUT_ERRORS as err:
        raise _suite_error(config, spec, err) from err
    if suite.shardable:
        return items[dist.rank :: dist.world_size]
    # timing suites: one process measures, so ranks do not compete for the device
    return items if dist.is_main else []


def _warm_up(suite: Suite, spec: SuiteSpec, systems: dict[str, System], seed: int) -> None:
    for variant in spec.variants:
        for warm in suite.warmup_items(seed):
            suite.infer(systems[variant], warm)


def _plan(
    config: RunConfig,
    systems: dict[str, System],
    suites: dict[str, Suite],
    store: RunStore,
    dist: Distributed,
    limit: int | None,
    calibrate: int,
    record: bool,
) -> Plan:
    """Count every suite's samples; time (and with ``record``, keep) a few of each."""
    rows: list[PlanRow] = []
    timed = 0
    start = time.perf_counter()
    for spec in config.suites:
        suite = suites[spec.name]
        items = _mine(suite, spec, config, dist, limit)
        pending = [
            it
            for it in items
            if any(
                not store.done(record_key(spec.name, it.sample, it.seed, v)) for v in spec.variants
            )
        ]
        # Evenly spread over the list: suites like latency mix workloads of different cost.
        n = min(calibrate, len(pending))
        chosen = [pending[round(i * (len(pending) - 1) / max(n - 1, 1))] for i in range(n)]
        seconds: dict[str, list[float]] = {v: [] for v in spec.variants}
        kept: dict[str, int] = {v: 0 for v in spec.variants}
        if chosen:
            _warm_up(suite, spec, systems, config.seed)
        for item in dict.fromkeys(chosen):
            for variant in spec.variants:
                if store.done(record_key(spec.name, item.sample, item.seed, variant)):
                    continue
                t0 = time.perf_counter()
                rec = run_item(suite, spec, systems[variant], variant, item, store, config.device)
                if rec["error"] is None:
                    seconds[variant].append(time.perf_counter() - t0)
                timed += 1
                if record:
                    store.append(rec)
                    kept[variant] += 1
        for variant in spec.variants:
            done = sum(
                store.done(record_key(spec.name, it.sample, it.seed, variant)) for it in items
            )
            times = seconds[variant]
            rows.append(
                PlanRow(
                    suite=spec.name,
                    variant=variant,
                    total=len(items),
                    done=done - kept[variant],
                    seconds=statistics.median(times) if times else None,
                    calibrated=kept[variant],
                )
            )
    # Shardable suites split their samples over ranks: rank 0's share stands for each rank's.
    return Plan(tuple(rows), timed=timed, calibration_seconds=time.perf_counter() - start)


def check_resume_config(
    run_dir: Path, old: dict[str, Any] | None, config: RunConfig, force: bool
) -> list[str]:
    """Keys of ``config`` that differ from the manifest's; RunStoreError unless ``force``."""
    if not old or not isinstance(old.get("config"), dict):
        return []
    new = config.to_dict()
    if old.get("config_fingerprint") == config_fingerprint(new):
        return []
    keys = differing_keys(old["config"], new)
    if keys and not force:
        raise RunStoreError(
            f"{run_dir}: --resume with a changed config: {describe_change(old['config'], new, keys)}"
            "; resume with the original config, choose another --out, or pass --force-config"
        )
    return keys


def _execute_locked(
    config: RunConfig,
    run_dir: Path,
    systems: dict[str, System],
    suites: dict[str, Suite],
    metrics: dict[str, Any],
    resume: bool,
    dist: Distributed,
    argv: list[str] | None,
    progress: bool,
    force_config: bool,
    plan: _PlanRequest,
) -> dict[str, Any] | None:
    limit = plan.limit
    old = read_json_file(run_dir / MANIFEST) if resume and dist.is_main else None
    forced = check_resume_config(run_dir, old, config, force_config)
    store = RunStore(run_dir, resume=resume, rank=dist.rank, world_size=dist.world_size)
    if dist.barrier is not None:
        dist.barrier()  # every rank has checked the directory before any rank writes records
    try:
        # 2. Manifest (kept from the first start when resuming).
        if dist.is_main:
            man = manifest(config, systems, dist, argv or sys.argv)
            if limit is not None:
                man["limit"] = limit  # a smoke run: the first N samples of each suite
            if old:
                man["started"] = old.get("started", man["started"])
                man["resumed"] = [*old.get("resumed", []), now()]
                if old.get("config_forced"):
                    man["config_forced"] = old["config_forced"]
            if forced:
                man.setdefault("config_forced", []).append({"at": now(), "keys": forced})
            man["protocols"] = {
                name: card.to_dict()
                for name, card in ((n, s.protocol_card()) for n, s in suites.items())
                if card is not None
            }
            store.write_json(MANIFEST, man)
        # 2b. Suite self-checks (e.g. GenEval's detector calibration): recorded, may refuse.
        preflight(suites, store, dist)
        # 3. Kernel backend, then weights.
        _load(config, systems)
        # 4. The plan: samples per suite and variant, timed on a few of them (main rank).
        if plan.on_plan is not None and dist.is_main:
            plan.on_plan(
                _plan(config, systems, suites, store, dist, limit, plan.calibrate, record=True)
            )
        # 5. Suites x items x variants, interleaved.
        for spec in config.suites:
            _run_suite(suites[spec.name], spec, systems, store, config, dist, progress, limit)
    finally:
        store.close()
    if dist.barrier is not None:
        dist.barrier()
    if not dist.is_main:
        return None
    # 6. Image metrics over the recorded images (never timed), then scores from the store
    #    alone, then close the manifest.
    if config.metrics:
        run_metrics(store.dir, config, metrics)
    scores = score_run(store.dir, suites, config, store)
    store.write_json(SCORES, scores)
    man = store.read_json(MANIFEST) or {}
    man["kernels"] = (
        kernel_backend.dispatch().report()
    )  # which backend each fused op ran on, fallbacks
    man["finished"] = now()
    store.write_json(MANIFEST, man)
    return scores


def preflight(suites: dict[str, Suite], store: RunStore, dist: Distributed) -> None:
    """Run every suite's :meth:`~.suite.Suite.preflight`; record the results in the manifest
    (main rank) and stop with a one-line :class:`RunError` when a suite refuses."""
    results: dict[str, Any] = {}
    refusal = None
    for name, suite in suites.items():
        try:
            result = suite.preflight()
        except PreflightError as err:
            result = {**err.record, "passed": False, "message": str(err)}
            refusal = refusal or f"suite {name!r}: {err}"
        if result is not None:
            results[name] = result
    if results and dist.is_main:
        man = store.read_json(MANIFEST) or {}
        man["preflight"] = results
        store.write_json(MANIFEST, man)
    if refusal:
        raise RunError(refusal)


def _run_suite(
    suite: Suite,
    spec: SuiteSpec,
    systems: dict[str, System],
    store: RunStore,
    config: RunConfig,
    dist: Distributed,
    progress: bool,
    limit: int | None = None,
) -> None:
    mine = _mine(suite, spec, config, dist, limit)
    if not suite.shardable and dist.world_size > 1 and dist.is_main:
        print(
            f"hbench: suite {spec.name!r} runs on rank 0 only (timing is not sharded)",
            file=sys.stderr,
        )
    todo = [
        (it, v)
        for it in mine
        for v in spec.variants
        if not store.done(record_key(spec.name, it.sample, it.seed, v))
    ]
    if not todo:
        return
    _warm_up(suite, spec, systems, config.seed)
    desc = f"{spec.name}" + (f" [rank {dist.rank}]" if dist.world_size > 1 else "")
    for item, variant in tqdm(todo, desc=desc, unit="sample", disable=not progress, leave=False):
        store.append(run_item(suite, spec, systems[variant], variant, item, store, config.device,
                              config.count_flops))  # fmt: skip


def failed_suites(run_dir: str | Path, config: RunConfig) -> list[str]:
    """One message per suite variant whose every sample failed (unless ``allow_errors``)."""
    records = read_records(Path(run_dir))
    out = []
    for spec in config.suites:
        if spec.allow_errors:
            continue
        for variant in spec.variants:
            recs = sorted((r for r in records if r["suite"] == spec.name and r["variant"] == variant),
                          key=lambda r: (r["sample"], r["seed"]))  # fmt: skip
            if recs and all(r.get("error") for r in recs):
                err = recs[0]["error"] or {}
                first = f"{err.get('type', 'Error')}: {err.get('message', '')}".replace("\n", " ")
                out.append(
                    f"suite {spec.name!r} variant {variant!r}: all {len(recs)} samples failed "
                    f"(first, {recs[0]['sample']}: {first[:300]})"
                )
    return out

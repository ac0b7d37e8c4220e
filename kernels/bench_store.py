"""The kernel benchmark's run directory: manifest.json, kernels.json, records.jsonl.

Same layout and fields as docs/run-store.md, written here because kernels/ imports nothing
else from hbench.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import dispatch


def now() -> str:
    """UTC time, ISO 8601, seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _git() -> dict:
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {"revision": None, "dirty": None}
    return {
        "revision": rev.stdout.strip() or None,
        "dirty": bool(dirty.stdout.strip()) if rev.returncode == 0 else None,
    }


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("hbench", "torch", "triton"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def cuda_info() -> dict | None:
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {
        "name": props.name,
        "capability": list(torch.cuda.get_device_capability(0)),
        "memory_bytes": props.total_memory,
        "cuda": torch.version.cuda,
    }


def write_json(path: Path, data: dict) -> None:
    """Atomic JSON write (no NaN)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(path)


def open_run(out: str | None) -> Path:
    """The run directory (``runs/kernels-<UTC time>`` by default).

    Raises:
        FileExistsError: The directory already holds a ``kernels.json``.
    """
    run = Path(out) if out else Path("runs") / f"kernels-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    if (run / "kernels.json").exists():
        raise FileExistsError(f"{run} already holds kernels.json; choose another --out")
    run.mkdir(parents=True, exist_ok=True)
    return run


def manifest(args: argparse.Namespace, argv: list[str], device: str, started: str) -> dict:
    """The run's manifest (docs/run-store.md fields, plus the dispatcher's report)."""
    return {
        "hbench_version": _versions()["hbench"],
        "kind": "kernels",
        "config": {k: v for k, v in vars(args).items() if k != "func"},
        "seed": args.seed,
        "device": device,
        "dtype": getattr(args, "dtype", None),
        "versions": _versions(),
        "git": _git(),
        "host": {
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "cuda": cuda_info(),
        },
        "argv": ["hbench", "kernels", *argv],
        "started": started,
        "finished": None,
        "world_size": 1,
        "kernels": dispatch.report(),
    }


def write_records(run: Path, rows: list[dict]) -> None:
    """One run-store record per table row (suite ``kernels``, variant = implementation)."""
    with (run / "records.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            metrics = {
                k: r[k]
                for k in (
                    "ms_median",
                    "ms_p20",
                    "ms_p80",
                    "gbps",
                    "pct_of_copy",
                    "speedup_vs_eager",
                )
                if r.get(k) is not None
            }
            sample = f"{r['op']}:{r['shape']}"
            rec = {
                "key": f"kernels/{sample}/0/{r['impl']}",
                "suite": "kernels",
                "sample": sample,
                "seed": 0,
                "variant": r["impl"],
                "output": {},
                "metrics": metrics,
                "details": {
                    k: r[k]
                    for k in ("bytes_min", "bytes_kernel", "check_ok", "check_detail")
                    if k in r
                },
                "profile": {"seconds": r["ms_median"] / 1e3 if r.get("ms_median") else None},
                "error": None
                if r["error"] is None
                else {"type": "KernelBenchError", "message": r["error"]},
                "finished_at": now(),
            }
            fh.write(json.dumps(rec, sort_keys=True, allow_nan=False) + "\n")

"""``hbench gate RUN --claims C --measure``: add blocks until sequential timing claims decide.

The sequential rule (docs/gate.md) asks for another block when a timing claim is undecided.
This loop does that: it continues the run (``--resume``) with one more repeat of every suite
that holds such a claim, rescores, and gates again, until no claim asks for another block
or the claims file's ``max_blocks`` is reached (then the claim says "inconclusive" at the
cap). The run's config is read from its manifest (``config_path``) unless given.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .claims import ClaimsFile

# (claims, run dir) -> results: hbench.harness.gate.check_claims, passed in by the gate so this
# module does not import it back (no import cycle).
Check = Callable[[ClaimsFile, Path], list[Any]]


def _wants_block(result: Any) -> bool:
    m = result.measurement
    return result.status == "inconclusive" and m is not None and "another block" in m.interval


def _blocks(run_dir: Path, suite: str) -> int:
    from .store import read_records

    repeats = {
        (r.get("details") or {}).get("repeat") for r in read_records(run_dir) if r["suite"] == suite
    }
    return len(repeats - {None})


def measure_until_decided(
    claims: ClaimsFile, run_dir: str | Path, check_claims: Check, config_path: str | None = None
) -> list[Any]:
    """Gate, and while a sequential claim asks for another block, measure one; returns the
    final results."""
    from . import plugins
    from .config import load_config
    from .runner import execute
    from .runs import load_run

    run = Path(run_dir)
    source = config_path or load_run(run).manifest.get("config_path")
    if not source or not Path(source).is_file():
        raise FileNotFoundError(
            f"{run}: --measure needs the run's config (got {source!r}); pass --config"
        )
    plugins.load_entry_point_plugins()
    results = check_claims(claims, run)
    while True:
        suites = sorted({r.claim.suite for r in results if _wants_block(r)})
        if not suites:
            return results
        config = load_config(source, plugins.SYSTEMS, plugins.SUITES)
        specs = []
        for spec in config.suites:
            if spec.name in suites:
                blocks = _blocks(run, spec.name) + 1
                print(f"hbench gate: {spec.name}: measuring block {blocks}", file=sys.stderr)
                spec = dataclasses.replace(
                    spec, params=dataclasses.replace(spec.params, repeats=blocks)
                )
            specs.append(spec)
        # A deliberate config change (one more repeat), recorded in the manifest as forced.
        execute(dataclasses.replace(config, suites=tuple(specs)), run, resume=True,
                progress=False, force_config=True)  # fmt: skip
        results = check_claims(claims, run)

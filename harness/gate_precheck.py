"""Before any claim is checked: is each gated run finished and undamaged?

A gate on a run that stopped midway would judge a subset of the samples (and might pass);
one on a damaged store (duplicated records after two writers) would read whatever the
de-duplication kept. :func:`precheck` refuses both, naming what is missing: the samples
the manifest's config asks for and the records lack, per suite and variant.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import plugins
from .config import _Located, build_dataclass
from .store import MANIFEST, RunStoreError, read_json_file, read_records, record_key
from .store_cli import scan

PARTIAL_EXIT = 3  # distinct from 1 (a claim fails) and 2 (claims or run unusable)
DAMAGED_EXIT = 2


def expected_keys(manifest: dict[str, Any]) -> dict[str, set[str]] | None:
    """Suite -> record keys the manifest's config asks for (None if it cannot be rebuilt)."""
    config = manifest.get("config") or {}
    seed = config.get("seed", manifest.get("seed", 0))
    limit = manifest.get("limit")  # a --limit run asks for the first N samples of each suite
    out: dict[str, set[str]] = {}
    loc = _Located(f"{MANIFEST} config")
    try:
        for name, params in (config.get("suites") or {}).items():
            params = dict(params)
            kind = params.pop("suite", name)
            variants = params.pop("variants", [])
            params.pop("allow_errors", None)
            cls = plugins.SUITES.get(kind)
            suite = cls(build_dataclass(cls.Config, params, ("suites", name), loc))
            out[name] = {
                record_key(name, it.sample, it.seed, v)
                for it in suite.items(seed)[:limit]
                for v in variants
            }
    except Exception:  # noqa: BLE001 - data or plugins absent here: judge by "finished" alone
        return None
    return out


def _missing_text(expected: dict[str, set[str]], have: set[str]) -> tuple[int, str]:
    parts, total = [], 0
    for suite, keys in sorted(expected.items()):
        missing = sorted(keys - have)
        if missing:
            total += len(missing)
            parts.append(f"{suite} {len(missing)}/{len(keys)} (first {missing[0]})")
    return total, ", ".join(parts)


def run_problem(run_dir: Path) -> tuple[int, str] | None:
    """(exit status, one-line reason) when a run cannot be gated as finished, else None."""
    damaged = [p for fs in scan(run_dir) for p in fs.problems] if run_dir.is_dir() else []
    if damaged:
        return DAMAGED_EXIT, (
            f"{run_dir}: damaged store ({len(damaged)} problem(s), first {damaged[0]}); "
            f"run: hbench store repair {run_dir}"
        )
    manifest = read_json_file(run_dir / MANIFEST)
    if manifest is None:
        return None  # not a run store: the gate's own checks name it
    # The runner writes "finished": null at the start and the time at the end; a manifest
    # without the field was not written by a run and is left to the gate's own checks.
    unfinished = "finished" in manifest and not manifest["finished"]
    expected = expected_keys(manifest) if "config" in manifest else None
    have = {r["key"] for r in read_records(run_dir)}
    missing, text = _missing_text(expected, have) if expected is not None else (0, "")
    if not unfinished and not missing:
        return None
    why = "unfinished (manifest finished: null)" if unfinished else "incomplete"
    detail = f"; missing samples: {text}" if missing else ""
    return PARTIAL_EXIT, f"{run_dir}: {why}, {len(have)} records{detail}"


def precheck(run_dirs: Sequence[str | Path], allow_partial: bool) -> int:
    """0 to go on with the claims; else the exit status, after one line per bad run."""
    status = 0
    for run in run_dirs:
        try:
            found = run_problem(Path(run))
        except RunStoreError as err:
            found = (DAMAGED_EXIT, str(err))
        if found is None:
            continue
        code, text = found
        if code == PARTIAL_EXIT and allow_partial:
            print(f"hbench gate: warning: {text} (gated anyway: --allow-partial)", file=sys.stderr)
            continue
        hint = "; pass --allow-partial to gate it anyway" if code == PARTIAL_EXIT else ""
        print(f"hbench gate: {text}{hint}", file=sys.stderr)
        status = max(status, code)
    return status

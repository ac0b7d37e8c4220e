"""``hbench store check RUN`` and ``hbench store repair RUN``: a damaged run store, found and fixed.

check: per JSON-lines file (``records*.jsonl``, ``metrics.jsonl``) the torn last line,
corrupt lines, lines without the required fields and duplicated record keys; the lock and
whether the manifest says finished. Exit 0 when clean, 1 when something needs repair.

repair (under the run lock): rewrites each damaged file atomically keeping the first
record of every key and every good line in order; what it drops (torn tail, corrupt lines,
duplicates) is saved under ``RUN/repair/`` first, so nothing is lost. Rescore afterwards
with ``hbench run CONFIG --out RUN --resume``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from .metric_values import METRIC_VALUES
from .store import (
    MANIFEST,
    RECORD_FIELDS,
    RunStoreError,
    now,
    read_json_file,
    write_file_atomic,
)
from .store_lock import LOCK, RunLock, describe_owner, lock_is_stale, read_lock


@dataclass
class FileScan:
    """What one JSON-lines file holds: good lines (kept) and the problems (dropped)."""

    path: Path
    kept: list[bytes] = field(default_factory=list)
    dropped: list[tuple[int, str, bytes]] = field(default_factory=list)  # (line, why, raw)

    @property
    def problems(self) -> list[str]:
        return [f"{self.path.name}:{n}: {why}" for n, why, _ in self.dropped]


def _files(run_dir: Path) -> list[tuple[Path, tuple[str, ...], bool]]:
    """(path, required fields, dedupe by key) of every JSON-lines file of the run."""
    out = [(p, RECORD_FIELDS, True) for p in sorted(run_dir.glob("records*.jsonl"))]
    if (run_dir / METRIC_VALUES).exists():
        out.append((run_dir / METRIC_VALUES, ("key", "metric"), False))
    return out


def scan(run_dir: Path) -> list[FileScan]:
    """Scan every JSON-lines file of a run (records de-duplicated across rank files)."""
    seen: dict[str, str] = {}
    out = []
    for path, required, dedupe in _files(run_dir):
        fs = FileScan(path)
        data = path.read_bytes()
        lines = data.split(b"\n")
        torn = not data.endswith(b"\n") and data != b""
        for i, raw in enumerate(lines):
            number = i + 1
            if not raw.strip():
                continue
            if torn and i == len(lines) - 1:
                fs.dropped.append((number, "torn last line (a write cut short)", raw))
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                fs.dropped.append((number, "corrupt line (not JSON)", raw))
                continue
            if not isinstance(obj, dict) or any(k not in obj for k in required):
                fs.dropped.append((number, f"line without {', '.join(required)}", raw))
                continue
            if dedupe:
                if obj["key"] in seen:
                    fs.dropped.append((number, f"duplicate of {seen[obj['key']]}", raw))
                    continue
                seen[obj["key"]] = f"{path.name}:{number}"
            fs.kept.append(raw)
        out.append(fs)
    return out


def check(run_dir: Path) -> tuple[list[str], list[str]]:
    """(problems that repair fixes, notes) of a run directory."""
    if not run_dir.is_dir():
        raise RunStoreError(f"{run_dir}: not a directory")
    problems = [p for fs in scan(run_dir) for p in fs.problems]
    notes = []
    manifest = read_json_file(run_dir / MANIFEST)
    if manifest is None:
        notes.append("no manifest.json (not a run directory, or killed before it started)")
    elif not manifest.get("finished"):
        notes.append("manifest finished: null (unfinished: continue it with --resume)")
    info = read_lock(run_dir)
    if info is not None:
        state = "stale" if lock_is_stale(info, run_dir / LOCK) else "held"
        notes.append(f"lock {state}: {describe_owner(info)}")
    return problems, notes


def repair(run_dir: Path) -> list[str]:
    """Rewrite the damaged files of a run (see the module docstring); returns what was done."""
    done = []
    with RunLock(run_dir, command="hbench store repair"):
        stamp = now().replace(":", "")
        for fs in scan(run_dir):
            if not fs.dropped:
                continue
            backup = run_dir / "repair" / f"{fs.path.name}.{stamp}.dropped.jsonl"
            backup.parent.mkdir(parents=True, exist_ok=True)
            write_file_atomic(backup, b"".join(raw + b"\n" for _, _, raw in fs.dropped))
            write_file_atomic(fs.path, b"".join(raw + b"\n" for raw in fs.kept))
            done.append(
                f"{fs.path.name}: kept {len(fs.kept)} line(s), dropped {len(fs.dropped)} "
                f"(saved in {backup.relative_to(run_dir)})"
            )
    return done


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hbench store``."""
    parser = argparse.ArgumentParser(prog="hbench store", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("check", "report damage (exit 1 if any)"), ("repair", "fix it")):
        p = sub.add_parser(name, help=text)
        p.add_argument("run", help="run directory")
    args = parser.parse_args(argv)
    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise RunStoreError(f"{run_dir}: not a directory")
    if args.command == "check":
        problems, notes = check(run_dir)
        for line in [*problems[:50], *notes]:
            print(line)
        if len(problems) > 50:
            print(f"... and {len(problems) - 50} more")
        verdict = f"{len(problems)} problem(s)" if problems else "clean"
        print(f"{run_dir}: {verdict}" + ("; fix with: hbench store repair RUN" * bool(problems)))
        return 1 if problems else 0
    actions = repair(run_dir)
    for line in actions:
        print(line)
    print(f"{run_dir}: " + ("repaired; rescore with --resume" if actions else "nothing to repair"))
    return 0

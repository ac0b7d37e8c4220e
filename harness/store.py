"""The run store: one directory per run (see docs/run-store.md).

Records are appended one JSON line at a time and flushed, so a killed run loses at most
the sample in flight; ``--resume`` skips the keys already recorded. A torn last line (a
kill in the middle of a write) is cut off on resume.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .suite import Artifacts, Item

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
SCORES = "scores.json"


class RunStoreError(RuntimeError):
    """A run directory that cannot be used as asked."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_key(suite: str, sample: str, seed: int, variant: str) -> str:
    """Stable id of a record: suite/sample/seed/variant."""
    return f"{suite}/{sample}/{seed}/{variant}"


def records_filename(rank: int = 0, world_size: int = 1) -> str:
    """Records file of one rank (``records.jsonl`` for a single process)."""
    return RECORDS if world_size == 1 else f"records.rank{rank}.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All complete JSON lines of a records file; a torn last line is ignored."""
    out = []
    if not path.exists():
        return out
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as err:
            if i == len(lines) - 1:  # torn tail from a killed writer
                break
            raise RunStoreError(f"{path}:{i + 1}: corrupt record: {err}") from err
    return out


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """Records of every rank of a run, de-duplicated by key (first one wins)."""
    seen: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(run_dir).glob("records*.jsonl")):
        for rec in read_jsonl(path):
            seen.setdefault(rec["key"], rec)
    return list(seen.values())


def _truncate_torn_tail(path: Path) -> None:
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as fh:
            fh.truncate(cut)


class RunStore:
    """Writer for one run directory (one rank's records file)."""

    def __init__(
        self, run_dir: str | Path, *, resume: bool = False, rank: int = 0, world_size: int = 1
    ) -> None:
        self.dir = Path(run_dir)
        self.rank = rank
        self.world_size = world_size
        self.records_path = self.dir / records_filename(rank, world_size)
        existing = list(self.dir.glob("records*.jsonl")) if self.dir.exists() else []
        has_records = any(p.stat().st_size > 0 for p in existing)
        if has_records and not resume:
            raise RunStoreError(
                f"run directory {self.dir} already holds records; pass --resume to continue it "
                "or choose another --out"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        _truncate_torn_tail(self.records_path)
        self._done: set[str] = {r["key"] for r in read_records(self.dir)} if resume else set()
        self._fh = self.records_path.open("a", encoding="utf-8")

    # ---- records
    def done(self, key: str) -> bool:
        return key in self._done

    def append(self, record: dict[str, Any]) -> None:
        """Append one finished record and flush it to the OS."""
        if record["key"] in self._done:
            raise RunStoreError(f"record {record['key']} is already in the run")
        self._fh.write(
            json.dumps(record, sort_keys=True, allow_nan=False, default=_json_default) + "\n"
        )
        self._fh.flush()
        self._done.add(record["key"])

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.dir)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    # ---- manifest and scores
    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        """Atomically write a JSON file in the run directory."""
        path = self.dir / name
        tmp = path.with_suffix(path.suffix + f".tmp{self.rank}")
        tmp.write_text(
            json.dumps(data, indent=2, sort_keys=True, allow_nan=False, default=_json_default)
            + "\n"
        )
        tmp.replace(path)
        return path

    def read_json(self, name: str) -> dict[str, Any] | None:
        path = self.dir / name
        return json.loads(path.read_text()) if path.exists() else None

    def artifacts(self, suite: str, variant: str) -> Artifacts:
        return _DirArtifacts(self.dir, suite, variant)


def _json_default(obj: Any) -> Any:
    # numpy scalars and paths are common in suite outputs
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


class _DirArtifacts(Artifacts):
    """Images under ``images/<suite>/<variant>/``; other files under ``artifacts/``."""

    def __init__(self, run_dir: Path, suite: str, variant: str) -> None:
        self.run_dir = run_dir
        self.suite = suite
        self.variant = variant

    def save_image(self, item: Item, image: Any, tag: str = "") -> str:
        name = item.sample.replace("/", "_") + (f"_{tag}" if tag else "") + ".png"
        rel = Path("images") / self.suite / self.variant / name
        path = self.run_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
        return rel.as_posix()

    def path(self, *parts: str) -> Path:
        path = self.run_dir / "artifacts" / self.suite / self.variant / Path(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def iter_variant_records(
    records: list[dict[str, Any]], suite: str, variant: str
) -> Iterator[dict[str, Any]]:
    """Records of one suite and variant, in sample order."""
    sel = [r for r in records if r["suite"] == suite and r["variant"] == variant]
    return iter(sorted(sel, key=lambda r: (r["sample"], r["seed"])))

"""The run store: one directory per run (see docs/run-store.md).

Records are appended one JSON line at a time and flushed, so a killed run loses at most
the sample in flight; ``--resume`` skips the keys already recorded. Every JSON-lines file
of a run (``records*.jsonl``, ``metrics.jsonl``) is written by :class:`JsonlWriter` only:
it cuts a torn last line (a kill in the middle of a write) before appending, writes
non-finite floats as ``null`` (JSON has no NaN), and names the file when the disk refuses.
Every path a record gives is resolved with :func:`contained` (never outside the run).
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from .suite import Artifacts, Item

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
SCORES = "scores.json"
RECORD_FIELDS = ("key", "suite", "sample", "seed", "variant")  # every record has these


class RunStoreError(RuntimeError, ValueError):  # reports caught it as a ValueError
    """A run directory that cannot be used as asked."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_key(suite: str, sample: str, seed: int, variant: str) -> str:
    """Stable id of a record: suite/sample/seed/variant."""
    return f"{suite}/{sample}/{seed}/{variant}"


def records_filename(rank: int = 0, world_size: int = 1) -> str:
    """Records file of one rank (``records.jsonl`` for a single process)."""
    return RECORDS if world_size == 1 else f"records.rank{rank}.jsonl"


# ------------------------------------------------------------------ paths inside the run


def contained(run_dir: str | Path, relative: Any) -> Path:
    """``run_dir / relative``, refusing absolute paths, ``..`` and symlinks leaving the run."""
    root = Path(run_dir)
    if not isinstance(relative, str) or not relative or "\x00" in relative or "\\" in relative:
        raise RunStoreError(f"{root}: path {relative!r} is not a relative path in the run")
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise RunStoreError(f"{root}: path {relative!r} points outside the run directory")
    path = root / rel
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise RunStoreError(f"{root}: path {relative!r} points outside the run directory")
    return path


# ------------------------------------------------------------------ JSON that JSON can hold


def json_safe(obj: Any, where: str = "") -> tuple[Any, dict[str, str]]:
    """``obj`` with every NaN/inf float replaced by None, and where each one was.

    Returns:
        (the JSON-safe copy, {dotted path: "nan" | "inf" | "-inf"}).
    """
    bad: dict[str, str] = {}

    def walk(x: Any, path: str) -> Any:
        if isinstance(x, dict):
            return {k: walk(v, f"{path}.{k}" if path else str(k)) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(x)]
        if hasattr(x, "item") and not isinstance(x, (str, bytes)):  # numpy / torch scalars
            try:
                x = x.item()
            except (TypeError, ValueError):
                return x
        if isinstance(x, float) and not math.isfinite(x):
            bad[path] = repr(x)
            return None
        return x

    return walk(obj, where), bad


def dumps_line(obj: Any) -> str:
    """One JSON line (sorted keys); non-finite floats become null."""
    safe, _ = json_safe(obj)
    return json.dumps(safe, sort_keys=True, allow_nan=False, default=_json_default) + "\n"


# ------------------------------------------------------------------ the one writer


def _write(fh: io.RawIOBase, data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file (the single place run files are written)."""
    view = memoryview(data)
    while view:
        n = fh.write(view)
        if n is None or n <= 0:  # pragma: no cover - raw files block until they write
            raise OSError(f"short write ({n})")
        view = view[n:]


def _disk_error(path: Path, err: OSError, what: str) -> RunStoreError:
    reason = err.strerror or str(err)
    return RunStoreError(
        f"cannot {what} {path}: {reason} (finished records are kept; fix this, then --resume)"
    )


def repair_torn_tail(path: Path) -> int:
    """Cut a last line without its newline (a writer killed mid-line); returns bytes cut."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    cut = data.rfind(b"\n") + 1
    with path.open("r+b") as fh:
        fh.truncate(cut)
    return len(data) - cut


class JsonlWriter:
    """Appender of one JSON-lines file: torn tail cut on open, one flushed line per object."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            repair_torn_tail(self.path)
            self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        except OSError as err:
            raise _disk_error(self.path, err, "open") from err

    def append(self, obj: Any) -> None:
        """Append one object as a line; the line is in the OS when this returns."""
        try:
            _write(self._fh, dumps_line(obj).encode("utf-8"))
        except OSError as err:
            raise _disk_error(self.path, err, "append to") from err

    def close(self) -> None:
        if not self._fh.closed:
            try:
                os.fsync(self._fh.fileno())
            except OSError:
                pass  # everything was written already; a failed fsync loses nothing we know of
            self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def append_jsonl(path: str | Path, objs: list[Any]) -> None:
    """Append objects to a JSON-lines file through :class:`JsonlWriter`."""
    with JsonlWriter(path) as writer:
        for obj in objs:
            writer.append(obj)


def write_file_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file and rename (never half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb", buffering=0) as fh:
            _write(fh, data)
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _disk_error(path, err, "write") from err
    return path


# ------------------------------------------------------------------ reading


def read_jsonl(path: Path, required: tuple[str, ...] = ("key",)) -> list[dict[str, Any]]:
    """All complete JSON lines of a JSON-lines file; a torn last line is ignored.

    Raises:
        RunStoreError: naming ``file:line`` for a corrupt line in the middle, a line that
            is not an object, or one without a ``required`` field.
    """
    out = []
    if not path.exists():
        return out
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    parsed = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            parsed.append((i + 1, json.loads(line)))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            if i == len(lines) - 1:  # torn tail from a killed writer
                break
            raise RunStoreError(
                f"{path}:{i + 1}: corrupt record: {err} (hbench store repair RUN)"
            ) from err
    for number, obj in parsed:  # syntax first, then fields: a corrupt line is the root cause
        if not isinstance(obj, dict):
            raise RunStoreError(
                f"{path}:{number}: expected a JSON object, got {type(obj).__name__}"
            )
        missing = [k for k in required if k not in obj]
        if missing:
            raise RunStoreError(f"{path}:{number}: record without {missing[0]!r}")
        out.append(obj)
    return out


_REQUIRED = {"key": str, "suite": str, "variant": str}


def _check_record(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise RunStoreError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for name, kind in _REQUIRED.items():
        if not isinstance(obj.get(name), kind):
            raise RunStoreError(f"{where}: field {name!r} missing or not a {kind.__name__}")
    missing = [k for k in RECORD_FIELDS if k not in obj]
    if missing:
        raise RunStoreError(f"{where}: record without {missing[0]!r}")
    for name in ("output", "metrics", "details", "profile", "cost"):
        if obj.get(name) is not None and not isinstance(obj[name], dict):
            raise RunStoreError(f"{where}: field {name!r} must be an object")
    return obj


def read_records(run_dir: Path, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """Records of every rank of a run, validated, in file order: the one record reader.

    A key that appears twice with the same content is kept once (a merged file beside the
    per-rank files); with different content it is an error. A last line without its newline
    is a write cut short by a killed run: it is skipped and, with ``problems``, reported.

    Raises:
        RunStoreError: invalid JSON inside a file, a missing field, conflicting duplicates.
    """
    records: list[dict[str, Any]] = []
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(Path(run_dir).glob("records*.jsonl")):
        lines = path.read_bytes().split(b"\n")
        parsed = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                parsed.append((f"{path}:{number}", json.loads(line)))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                if number == len(lines):  # no trailing newline: a torn tail
                    if problems is not None:
                        problems.append(f"{path}:{number}: incomplete last line skipped")
                    continue
                raise RunStoreError(
                    f"{path}:{number}: corrupt record: invalid JSON ({err}) (hbench store repair RUN)"
                ) from err
        for where, obj in parsed:  # syntax first, then fields: a corrupt line is the root cause
            record = _check_record(obj, where)
            if record["key"] in seen:
                first, previous = seen[record["key"]]
                if previous != record:
                    raise RunStoreError(
                        f"{where}: key {record['key']!r} also at {first} with different content"
                    )
                continue
            seen[record["key"]] = (where, record)
            records.append(record)
    return records


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
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _disk_error(self.dir, err, "create") from err
        self._writer = JsonlWriter(self.records_path)
        self._done: set[str] = {r["key"] for r in read_records(self.dir)} if resume else set()

    # ---- records
    def done(self, key: str) -> bool:
        return key in self._done

    def append(self, record: dict[str, Any]) -> None:
        """Append one finished record and flush it to the OS.

        Non-finite floats are stored as null and listed under ``non_finite`` (path -> value).
        """
        if record["key"] in self._done:
            raise RunStoreError(f"record {record['key']} is already in the run")
        safe, bad = json_safe(record)
        if bad:
            safe["non_finite"] = {**(safe.get("non_finite") or {}), **bad}
        self._writer.append(safe)
        self._done.add(record["key"])

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.dir)

    def close(self) -> None:
        self._writer.close()

    # ---- manifest and scores
    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        """Atomically write a JSON file in the run directory (non-finite floats as null)."""
        safe, _ = json_safe(data)
        text = json.dumps(safe, indent=2, sort_keys=True, allow_nan=False, default=_json_default)
        return write_file_atomic(contained(self.dir, name), (text + "\n").encode("utf-8"))

    def read_json(self, name: str) -> dict[str, Any] | None:
        return read_json_file(self.dir / name)

    def artifacts(self, suite: str, variant: str) -> DirArtifacts:
        return DirArtifacts(self.dir, suite, variant)


def read_json_file(path: Path) -> dict[str, Any] | None:
    """A run's JSON file (None when absent); RunStoreError naming it when unreadable."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise RunStoreError(f"{path}: unreadable JSON: {err}") from err
    if not isinstance(data, dict):
        raise RunStoreError(f"{path}: expected a JSON object")
    return data


def _json_default(obj: Any) -> Any:
    # numpy scalars and paths are common in suite outputs
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


class DirArtifacts(Artifacts):
    """Images under ``images/<suite>/<variant>/``; other files under ``artifacts/``.

    Paths stay inside the run directory. ``warnings`` collects per-sample notes (an output
    image that is constant or non-finite) that the runner puts in the sample's record.
    """

    def __init__(self, run_dir: Path, suite: str, variant: str) -> None:
        self.run_dir = run_dir
        self.suite = suite
        self.variant = variant
        self.warnings: list[str] = []

    def save_image(self, item: Item, image: Any, tag: str = "") -> str:
        name = item.sample.replace("/", "_") + (f"_{tag}" if tag else "") + ".png"
        rel = (PurePosixPath("images") / self.suite / self.variant / name).as_posix()
        path = contained(self.run_dir, rel)
        if not tag:
            self.warnings += image_warnings(image, rel)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _disk_error(path.parent, err, "create") from err
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        write_file_atomic(path, buf.getvalue())
        return rel

    def path(self, *parts: str) -> Path:
        rel = PurePosixPath("artifacts", self.suite, self.variant, *parts).as_posix()
        path = contained(self.run_dir, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def image_warnings(image: Any, name: str) -> list[str]:
    """Warnings for an output image whose pixels are non-finite or all the same."""
    import numpy as np

    try:
        arr = np.asarray(image)
    except Exception:  # noqa: BLE001 - an image type numpy cannot read is not ours to judge
        return []
    if arr.size == 0 or arr.dtype.kind not in "biuf":
        return []
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return [f"{name}: output image has non-finite pixels"]
    lo, hi = arr.min(), arr.max()
    if lo == hi:
        return [f"{name}: output image is constant (every pixel {lo.item()!r})"]
    return []


def iter_variant_records(
    records: list[dict[str, Any]], suite: str, variant: str
) -> Iterator[dict[str, Any]]:
    """Records of one suite and variant, in sample order."""
    sel = [r for r in records if r["suite"] == suite and r["variant"] == variant]
    return iter(sorted(sel, key=lambda r: (r["sample"], r["seed"])))

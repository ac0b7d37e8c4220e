"""Read one run directory of the run store (docs/run-store.md) into plain Python data.

Reports read only this: ``manifest.json``, every ``records*.jsonl``, ``scores.json`` and the
images the records point to. Nothing here runs a model or imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_REFERENCE = "baseline"


class RunStoreError(ValueError):
    """A run directory that cannot be read; the message names the file, line and field."""


@dataclass(frozen=True)
class Run:
    """One finished (or partial) run: manifest, records and scores as read from disk.

    Attributes:
        path: the run directory.
        label: a short name, unique among the runs of one report.
        manifest: ``manifest.json`` (empty dict when absent).
        records: all records of every ``records*.jsonl``, errors included, in file order.
        scores: ``scores.json`` (empty dict when absent).
        problems: things that were missing or skipped while reading, for the report to say.
    """

    path: Path
    label: str
    manifest: dict[str, Any]
    records: tuple[dict[str, Any], ...]
    scores: dict[str, Any]
    problems: tuple[str, ...] = field(default=())

    @property
    def reference(self) -> str:
        """The reference (baseline) variant of this run."""
        system = self.manifest.get("system") or {}
        return str(system.get("reference") or DEFAULT_REFERENCE)

    def suites(self) -> list[str]:
        """Suites that have records or scores, sorted."""
        names = {r["suite"] for r in self.records} | set(self.suite_scores())
        return sorted(names)

    def suite_scores(self) -> dict[str, Any]:
        """``scores.json``'s ``suites`` mapping (empty when absent)."""
        suites = self.scores.get("suites")
        return suites if isinstance(suites, dict) else {}

    def variants(self, suite: str) -> list[str]:
        """Variants of ``suite``: the reference first, then the manifest's order, then by name."""
        present = {r["variant"] for r in self.records if r["suite"] == suite}
        present |= set((self.suite_scores().get(suite) or {}).get("variants") or {})
        declared = list(((self.manifest.get("system") or {}).get("variants")) or {})
        order = [self.reference] + declared + sorted(present)
        seen: list[str] = []
        for name in order:
            if name in present and name not in seen:
                seen.append(name)
        return seen

    def ok_records(self, suite: str, variant: str) -> list[dict[str, Any]]:
        """Records of (suite, variant) without an error, sorted by (sample, seed)."""
        rows = [
            r
            for r in self.records
            if r["suite"] == suite and r["variant"] == variant and not r.get("error")
        ]
        return sorted(rows, key=lambda r: (str(r["sample"]), int(r.get("seed") or 0)))

    def error_count(self, suite: str, variant: str) -> int:
        """How many records of (suite, variant) carry an error."""
        return sum(
            1
            for r in self.records
            if r["suite"] == suite and r["variant"] == variant and r.get("error")
        )

    def file(self, relative: str) -> Path:
        """Resolve a path a record gives relative to the run; refuse paths leaving the run."""
        root = self.path.resolve()
        target = (root / relative).resolve()
        if root not in target.parents:
            raise RunStoreError(f"{self.path}: path {relative!r} points outside the run directory")
        return target


_REQUIRED = {"key": str, "suite": str, "variant": str}


def _check_record(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise RunStoreError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for name, kind in _REQUIRED.items():
        if not isinstance(obj.get(name), kind):
            raise RunStoreError(f"{where}: field {name!r} missing or not a {kind.__name__}")
    if "sample" not in obj:
        raise RunStoreError(f"{where}: field 'sample' missing")
    for name in ("output", "metrics", "details", "profile"):
        if obj.get(name) is not None and not isinstance(obj[name], dict):
            raise RunStoreError(f"{where}: field {name!r} must be an object")
    return obj


def read_records(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """All records of ``records*.jsonl`` in ``run_dir``, with problems noticed on the way.

    A key that appears twice with the same content is kept once (a merged file beside the
    per-rank files); with different content it is an error. A last line without its newline
    is a write cut short by a killed run: it is skipped and reported as a problem.

    Raises:
        RunStoreError: on invalid JSON, a missing field, or conflicting duplicates.
    """
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(run_dir.glob("records*.jsonl")):
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                if number == len(lines):  # no trailing newline: cut short
                    problems.append(f"{where}: incomplete last line skipped")
                    continue
                raise RunStoreError(f"{where}: invalid JSON ({err.msg})") from err
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
    return records, problems


def _read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RunStoreError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from err
    if not isinstance(obj, dict):
        raise RunStoreError(f"{path}: expected a JSON object at the top level")
    return obj


def load_run(run_dir: str | Path, label: str | None = None) -> Run:
    """Read a run directory.

    Args:
        run_dir: the directory holding ``manifest.json`` / ``records*.jsonl`` / ``scores.json``.
        label: the name to show for it (default: the directory name).

    Returns:
        The run; absent files become empty values listed in ``Run.problems``.

    Raises:
        RunStoreError: if the directory does not exist, has none of the run files, or a file
            is malformed.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise RunStoreError(f"{path}: not a directory (expected a run directory)")
    problems: list[str] = []
    manifest_path, scores_path = path / "manifest.json", path / "scores.json"
    manifest = _read_json(manifest_path) if manifest_path.is_file() else {}
    scores = _read_json(scores_path) if scores_path.is_file() else {}
    if not manifest:
        problems.append(f"{manifest_path.name} absent")
    if not scores:
        problems.append(f"{scores_path.name} absent: scores computed from records")
    records, record_problems = read_records(path)
    problems += record_problems
    if not manifest and not scores and not records:
        raise RunStoreError(
            f"{path}: no manifest.json, scores.json or records*.jsonl: not a run directory"
        )
    if manifest.get("finished", "") is None:
        problems.append("run not finished (manifest 'finished' is null)")
    return Run(
        path=path,
        label=label or path.resolve().name,
        manifest=manifest,
        records=tuple(records),
        scores=scores,
        problems=tuple(problems),
    )


def load_runs(run_dirs: list[str | Path] | tuple[str | Path, ...]) -> list[Run]:
    """Read several runs and give them unique labels (dir name, then git revision, then #i).

    Raises:
        RunStoreError: if no run is given or one cannot be read.
    """
    if not run_dirs:
        raise RunStoreError("no run directory given")
    runs = [load_run(d) for d in run_dirs]
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):
        labels = [_with_revision(r) for r in runs]
    if len(set(labels)) < len(labels):
        labels = [f"{label}#{i + 1}" for i, label in enumerate(labels)]
    return [
        Run(r.path, lab, r.manifest, r.records, r.scores, r.problems)
        for r, lab in zip(runs, labels, strict=True)
    ]


def _with_revision(run: Run) -> str:
    revision = str((run.manifest.get("git") or {}).get("revision") or "")[:7]
    host = str((run.manifest.get("host") or {}).get("hostname") or "")
    suffix = "@".join(p for p in (revision, host) if p)
    return f"{run.label}@{suffix}" if suffix else run.label


class NoData(Exception):
    """An artifact has nothing to show for these runs; the message says what is absent."""

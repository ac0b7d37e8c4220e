"""Read run directories of the run store (docs/run-store.md) into plain Python data.

The one reader of finished (or partial) runs: reports, the gate and task tools read
``manifest.json``, every ``records*.jsonl`` (through :func:`hbench.harness.store.read_records`)
and ``scores.json`` here. Nothing here runs a model or imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .messages import not_a_run_directory
from .store import RunStoreError, read_records

DEFAULT_REFERENCE = "baseline"


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
        return str(self.scores.get("reference") or system.get("reference") or DEFAULT_REFERENCE)

    def role(self, variant: str) -> str:
        """``reference``, ``candidate`` or ``bound`` (scores.json's roles, else the config's)."""
        if variant == self.reference:
            return "reference"
        roles = self.scores.get("roles") or {}
        if variant in roles:
            return str(roles[variant])
        bounds = ((self.manifest.get("config") or {}).get("system") or {}).get("bounds") or ()
        return "bound" if variant in bounds else "candidate"

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
        raise RunStoreError(not_a_run_directory(path))
    problems: list[str] = []
    manifest_path, scores_path = path / "manifest.json", path / "scores.json"
    manifest = _read_json(manifest_path) if manifest_path.is_file() else {}
    scores = _read_json(scores_path) if scores_path.is_file() else {}
    if not manifest:
        problems.append(f"{manifest_path.name} absent")
    if not scores:
        problems.append(f"{scores_path.name} absent: scores computed from records")
    records = read_records(path, problems)
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

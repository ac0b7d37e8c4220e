"""Summary numbers identical to the official ``summary_scores.py``, and the results jsonl.

Official results rows have the columns ``filename, tag, prompt, correct, reason, metadata,
details`` (``metadata`` and ``details`` are JSON strings). The summary groups prompts by
their ``metadata`` string, tags in order of first appearance, and the overall score is the
unweighted mean of the per-tag accuracies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

RESULT_COLUMNS: tuple[str, ...] = (
    "filename", "tag", "prompt", "correct", "reason", "metadata", "details",
)  # fmt: skip


class ResultsError(ValueError):
    """A malformed results file or row; the message names file and line."""


def summary_scores(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The official summary of results rows (needs ``tag``, ``correct``, ``metadata``).

    Returns:
        ``total_images``, ``total_prompts``, ``correct_images`` and ``correct_prompts``
        (fractions), ``tags`` (tag -> ``{"accuracy", "correct", "total"}``, in order of first
        appearance) and ``overall`` (unweighted mean over tags).

    >>> rows = [{"tag": "a", "correct": True, "metadata": "1"},
    ...         {"tag": "a", "correct": False, "metadata": "1"},
    ...         {"tag": "b", "correct": False, "metadata": "2"}]
    >>> s = summary_scores(rows)
    >>> s["overall"], s["correct_images"], s["correct_prompts"]
    (0.25, 0.3333333333333333, 0.5)
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no results to summarise")
    tags: dict[str, list[bool]] = {}
    prompts: dict[str, bool] = {}
    for row in rows:
        ok = bool(row["correct"])
        tags.setdefault(row["tag"], []).append(ok)
        prompts[row["metadata"]] = prompts.get(row["metadata"], False) or ok
    per_tag = {
        t: {"accuracy": sum(v) / len(v), "correct": sum(v), "total": len(v)}
        for t, v in tags.items()
    }
    return {
        "total_images": len(rows),
        "total_prompts": len(prompts),
        "correct_images": sum(bool(r["correct"]) for r in rows) / len(rows),
        "correct_prompts": sum(prompts.values()) / len(prompts),
        "tags": per_tag,
        "overall": sum(t["accuracy"] for t in per_tag.values()) / len(per_tag),
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """The summary as ``summary_scores.py`` prints it."""
    lines = [
        "Summary",
        "=======",
        f"Total images: {summary['total_images']}",
        f"Total prompts: {summary['total_prompts']}",
        f"% correct images: {summary['correct_images']:.2%}",
        f"% correct prompts: {summary['correct_prompts']:.2%}",
        "",
        "Task breakdown",
        "==============",
    ]
    for tag, t in summary["tags"].items():
        lines.append(f"{tag:<16} = {t['accuracy']:.2%} ({t['correct']} / {t['total']})")
    lines += ["", f"Overall score (avg. over tasks): {summary['overall']:.5f}"]
    return "\n".join(lines)


def prompt_agreement(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """How consistently the samples of each prompt are judged (beside the score).

    Per prompt, agreement = share of its samples with the majority verdict (1.0 when all
    samples agree). Returns the mean agreement, the share of prompts whose samples all
    agree, and the mean number of samples per prompt.
    """
    verdicts: dict[str, list[bool]] = {}
    for row in rows:
        verdicts.setdefault(row["metadata"], []).append(bool(row["correct"]))
    if not verdicts:
        raise ValueError("no results to summarise")
    agree = [max(sum(v), len(v) - sum(v)) / len(v) for v in verdicts.values()]
    return {
        "mean_agreement": sum(agree) / len(agree),
        "all_samples_agree": sum(a == 1.0 for a in agree) / len(agree),
        "samples_per_prompt": sum(len(v) for v in verdicts.values()) / len(verdicts),
    }


def write_results(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write results rows as the official jsonl (columns in the official order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            missing = [c for c in RESULT_COLUMNS if c not in row]
            if missing:
                raise ResultsError(f"results row lacks column(s) {', '.join(missing)}: {row!r}")
            fh.write(json.dumps({c: row[c] for c in RESULT_COLUMNS}) + "\n")
    return path


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Read an official (or hbench) results jsonl; every line must have the official columns."""
    path = Path(path)
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ResultsError(f"{path}: cannot read results: {err.strerror}") from err
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ResultsError(f"{path}:{lineno}: not valid JSON: {err.msg}") from err
        missing = [c for c in ("tag", "correct", "metadata") if c not in row]
        if missing:
            raise ResultsError(f"{path}:{lineno}: missing column(s) {', '.join(missing)}")
        rows.append(row)
    return rows

"""Per-sample correctness and benchmark summaries (MME scores, accuracies, circular MMBench)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from .loaders import Sample
from .protocols import strict_score

MME_PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene",
                  "landmark", "artwork", "OCR")  # fmt: skip
MME_COGNITION = (
    "commonsense_reasoning",
    "numerical_calculation",
    "text_translation",
    "code_reasoning",
)


def score_sample(sample: Sample, text: str) -> tuple[bool, str, str]:
    """``(correct, extracted answer, reason)`` for one output under the ``strict`` profile."""
    v = strict_score(sample, text)
    return v.correct, v.extracted, v.reason


def mme_scores(
    rows: list[dict[str, Any]], failed: Iterable[tuple[str, str]] = ()
) -> dict[str, Any]:
    """Official MME scoring: per subtask acc + acc+ (x100); perception and cognition totals.

    Args:
        rows: ``{"category", "group" (image id), "correct"}`` per answered question,
            optionally ``"counted": False`` for an answer the official calculation skips (it
            is left out of acc, and its image cannot count for acc+; calculation.py:198-220).
        failed: ``(category, group)`` of questions that errored: their image is never
            "both right" for acc+ (acc counts the answered questions only).
    """
    by_task: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    skipped: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.get("counted", True):
            by_task[r["category"]][r["group"]].append(bool(r["correct"]))
        else:
            by_task[r["category"]][r["group"]].append(False)
            skipped[r["category"]] += 1
    broken: dict[str, set[str]] = defaultdict(set)
    for category, group in failed:
        broken[category].add(group)
    tasks = {}
    for task, groups in by_task.items():
        answers = [c for g in groups.values() for c in g]
        counted = len(answers) - skipped[task]
        acc = 100.0 * sum(answers) / counted if counted else 0.0
        images = set(groups) | broken.get(task, set())
        both = sum(1 for g in images if g not in broken.get(task, ()) and all(groups[g]))
        acc_plus = 100.0 * both / len(images)
        tasks[task] = {
            "acc": acc,
            "acc_plus": acc_plus,
            "score": acc + acc_plus,
            "questions": len(answers),
        }
        if skipped[task]:
            tasks[task]["skipped"] = skipped[task]
    return {
        "tasks": tasks,
        "perception": sum(tasks[t]["score"] for t in MME_PERCEPTION if t in tasks),
        "cognition": sum(tasks[t]["score"] for t in MME_COGNITION if t in tasks),
        "other_tasks": sorted(t for t in tasks if t not in MME_PERCEPTION + MME_COGNITION),
    }


def circular_accuracy(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """MMBench CircularEval: a question counts only if all its circular copies are correct."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        groups[r["group"]].append(bool(r["correct"]))
    if not any(len(g) > 1 for g in groups.values()):
        return None
    return {
        "circular_accuracy": sum(all(g) for g in groups.values()) / len(groups),
        "questions": len(groups),
    }


def per_category(rows: list[dict[str, Any]]) -> dict[str, float]:
    acc: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        acc[r["category"]].append(bool(r["correct"]))
    return {k: sum(v) / len(v) for k, v in sorted(acc.items())}

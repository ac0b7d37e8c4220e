"""Per-sample correctness and benchmark summaries (MME scores, accuracies, circular MMBench)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from hbench.baselines.shapes.world import final_answer

from .extraction import extract_option, extract_yes_no, normalize, open_answer_correct
from .loaders import Sample

MME_PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene",
                  "landmark", "artwork", "OCR")  # fmt: skip
MME_COGNITION = (
    "commonsense_reasoning",
    "numerical_calculation",
    "text_translation",
    "code_reasoning",
)


def score_sample(sample: Sample, text: str) -> tuple[bool, str, str]:
    """``(correct, extracted answer, reason)`` for one output."""
    if sample.kind == "yes_no":
        pred = extract_yes_no(text)
        gold = str(sample.answer).strip().lower()
        return pred == gold, pred, "" if pred != "other" else "no yes/no in the first 4 characters"
    if sample.kind == "choice":
        pred = extract_option(text, sample.options)
        gold = sample.answer if isinstance(sample.answer, str) else str(sample.answer)
        return (
            pred == gold.strip(),
            pred or "",
            "" if pred else "no option letter or unique option text",
        )
    if sample.kind == "open":
        return open_answer_correct(text, sample.answer), text.strip(), ""
    if sample.kind == "vqa":  # shapes VQA: the response's last word (it may describe first)
        pred = final_answer(normalize(text))
        return pred == normalize(str(sample.answer)), pred, ""
    # shapes caption: exact match after normalising spaces and case
    pred = normalize(text)
    return pred == normalize(str(sample.answer)), pred, ""


def mme_scores(
    rows: list[dict[str, Any]], failed: Iterable[tuple[str, str]] = ()
) -> dict[str, Any]:
    """Official MME scoring: per subtask acc + acc+ (x100); perception and cognition totals.

    Args:
        rows: ``{"category", "group" (image id), "correct"}`` per answered question.
        failed: ``(category, group)`` of questions that errored: their image is never
            "both right" for acc+ (acc counts the answered questions only).
    """
    by_task: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_task[r["category"]][r["group"]].append(bool(r["correct"]))
    broken: dict[str, set[str]] = defaultdict(set)
    for category, group in failed:
        broken[category].add(group)
    tasks = {}
    for task, groups in by_task.items():
        answers = [c for g in groups.values() for c in g]
        acc = 100.0 * sum(answers) / len(answers)
        images = set(groups) | broken.get(task, set())
        both = sum(1 for g in images if g not in broken.get(task, ()) and all(groups[g]))
        acc_plus = 100.0 * both / len(images)
        tasks[task] = {
            "acc": acc,
            "acc_plus": acc_plus,
            "score": acc + acc_plus,
            "questions": len(answers),
        }
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

"""GEdit-Bench aggregation, as ``GEdit-Bench/calculate_statistics.py`` computes it.

For one instruction language:

1. keep the rows of that language;
2. per row, O = sqrt(SC * PQ), recomputed from the two stored scores;
3. per task type, the plain means of SC, PQ and O over its rows; a task type with no
   rows has NaN means (numpy's mean of an empty list);
4. the headline is the unweighted mean of the per-type means over the listed task types
   (a NaN type makes it NaN, as in the official script);
5. the same again over the rows with ``Intersection_exist`` true.

The csv files are the official ``test_gedit_score.py`` output: one
``<model>_<task_type>_gpt_score.csv`` per task type plus ``<model>_combined_gpt_score.csv``,
columns ``source_image, edited_image, instruction, sementics_score, quality_score,
intersection_exist, instruction_language`` (the misspelling is theirs and kept).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .loader import GEDIT_TASK_TYPES

CSV_FIELDS: tuple[str, ...] = (
    "source_image", "edited_image", "instruction", "sementics_score", "quality_score",
    "intersection_exist", "instruction_language",
)  # fmt: skip


@dataclass(frozen=True)
class ScoreRow:
    """One judged sample, the unit of GEdit-Bench aggregation."""

    task_type: str
    language: str
    sc: float
    pq: float
    intersection: bool
    instruction: str = ""
    source_image: str = ""
    edited_image: str = ""


@dataclass(frozen=True)
class SubsetScores:
    """Per-task-type means and their unweighted average for one subset of one language."""

    semantics: dict[str, float]
    quality: dict[str, float]
    overall: dict[str, float]
    n: dict[str, int]
    avg_semantics: float
    avg_quality: float
    avg_overall: float

    def to_json(self) -> dict:
        """JSON-able form with NaN written as None."""

        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "semantics": {k: clean(v) for k, v in self.semantics.items()},
            "quality": {k: clean(v) for k, v in self.quality.items()},
            "overall": {k: clean(v) for k, v in self.overall.items()},
            "n": dict(self.n),
            "avg_semantics": clean(self.avg_semantics),
            "avg_quality": clean(self.avg_quality),
            "avg_overall": clean(self.avg_overall),
        }


@dataclass(frozen=True)
class LanguageScores:
    """Full set and intersection subset of one language."""

    language: str
    fullset: SubsetScores
    intersection: SubsetScores
    extra_types: tuple[str, ...] = field(default=())  # rows whose type is not in the groups


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def _subset(rows: list[ScoreRow], groups: Sequence[str]) -> SubsetScores:
    sem, qual, over, n = {}, {}, {}, {}
    for g in groups:
        mine = [r for r in rows if r.task_type == g]
        sem[g] = _mean([r.sc for r in mine])
        qual[g] = _mean([r.pq for r in mine])
        over[g] = _mean([math.sqrt(r.sc * r.pq) for r in mine])
        n[g] = len(mine)
    return SubsetScores(sem, qual, over, n, _mean(list(sem.values())),
                        _mean(list(qual.values())), _mean(list(over.values())))  # fmt: skip


def aggregate(
    rows: Iterable[ScoreRow], language: str, groups: Sequence[str] = GEDIT_TASK_TYPES
) -> LanguageScores:
    """Official GEdit-Bench statistics of ``rows`` for one ``language`` over ``groups``."""
    if not groups:
        raise ValueError("aggregate: no task types to average over")
    mine = [r for r in rows if r.language == language]
    extra = tuple(sorted({r.task_type for r in mine} - set(groups)))
    return LanguageScores(
        language,
        _subset(mine, groups),
        _subset([r for r in mine if r.intersection], groups),
        extra,
    )


def _csv_row(r: ScoreRow) -> dict[str, object]:
    return {
        "source_image": r.source_image,
        "edited_image": r.edited_image,
        "instruction": r.instruction,
        "sementics_score": r.sc,
        "quality_score": r.pq,
        "intersection_exist": r.intersection,
        "instruction_language": r.language,
    }


def write_official_csvs(rows: Sequence[ScoreRow], out_dir: str | Path, model: str,
                        groups: Sequence[str] = GEDIT_TASK_TYPES) -> list[Path]:  # fmt: skip
    """Write the per-task-type and combined csv files; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, subset in [(g, [r for r in rows if r.task_type == g]) for g in groups] + [
        ("combined", list(rows))
    ]:
        path = out / f"{model}_{name}_gpt_score.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(_csv_row(r) for r in subset)
        paths.append(path)
    return paths


def _bool(value: str, where: str) -> bool:
    if value in ("True", "true", "1"):
        return True
    if value in ("False", "false", "0"):
        return False
    raise ValueError(f"{where}: intersection_exist must be True or False, got {value!r}")


def read_official_csv(path: str | Path, task_type: str) -> list[ScoreRow]:
    """Rows of one official per-task-type csv (its task type comes from the file name)."""
    path = Path(path)
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [f for f in CSV_FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, rec in enumerate(reader, start=2):
            where = f"{path} line {line}"
            try:
                sc, pq = float(rec["sementics_score"]), float(rec["quality_score"])
            except ValueError as err:
                raise ValueError(f"{where}: scores must be numbers ({err})") from err
            rows.append(ScoreRow(task_type, rec["instruction_language"], sc, pq,
                                 _bool(rec["intersection_exist"], where), rec["instruction"],
                                 rec["source_image"], rec["edited_image"]))  # fmt: skip
    return rows


def read_official_dir(
    directory: str | Path, model: str, groups: Sequence[str] = GEDIT_TASK_TYPES
) -> list[ScoreRow]:
    """All rows of an official results folder (``<model>_<task_type>_gpt_score.csv`` files).

    A missing per-type file raises, as the official script does.
    """
    directory = Path(directory)
    rows: list[ScoreRow] = []
    for g in groups:
        path = directory / f"{model}_{g}_gpt_score.csv"
        if not path.is_file():
            raise FileNotFoundError(f"official results file {str(path)!r} not found")
        rows += read_official_csv(path, g)
    return rows


def format_table(scores: LanguageScores) -> str:
    """The official script's printout: ``type: SC, PQ, O`` lines, then the averages."""
    lines = []
    for label, sub in (("", scores.fullset), (" Intersection", scores.intersection)):
        if label:
            lines.append("\nIntersection:")
        for g in sub.semantics:
            lines.append(f"{g}: {sub.semantics[g]:.3f}, {sub.quality[g]:.3f}, {sub.overall[g]:.3f}")
        lines.append(
            f"Average{label}: {sub.avg_semantics:.3f}, {sub.avg_quality:.3f}, {sub.avg_overall:.3f}"
        )
    return "\n".join(lines)

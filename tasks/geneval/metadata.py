"""GenEval prompt metadata: load and validate official files, generate sets for any vocabulary.

A record is one line of the official ``evaluation_metadata.jsonl``::

    {"tag": "position", "prompt": "a photo of a dog right of a teddy bear",
     "include": [{"class": "teddy bear", "count": 1},
                 {"class": "dog", "count": 1, "position": ["right of", 0]}]}

``include`` groups may carry ``color`` (one of the ten GenEval colours) and ``position``
(``[relation, index of an earlier group]``); ``exclude`` groups carry ``class`` and ``count``.
The project does not ship the official file: users pass its path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hbench.harness.textio import InputFileError, read_utf8
from hbench.worlds.shapes.geneval_format import (
    GENEVAL_COLORS,
    RELATIONS,
    TAGS,
    make_metadata_set,
    shapes_metadata_set,
)

__all__ = [
    "GENEVAL_COLORS",
    "RELATIONS",
    "TAGS",
    "MetadataError",
    "generate_metadata",
    "load_metadata",
    "read_object_names",
    "validate_record",
    "write_metadata",
]

_INCLUDE_KEYS = {"class", "count", "color", "position"}
_EXCLUDE_KEYS = {"class", "count"}


class MetadataError(ValueError):
    """A bad metadata record; the message names the file and line."""


def _check_group(group: Any, kind: str, i: int, n_before: int) -> list[str]:
    """Problems of one include/exclude group (empty list when fine)."""
    where = f"{kind}[{i}]"
    if not isinstance(group, dict):
        return [f"{where} must be an object, got {group!r}"]
    allowed = _INCLUDE_KEYS if kind == "include" else _EXCLUDE_KEYS
    problems = [
        f"{where} has unknown key {k!r} (allowed: {', '.join(sorted(allowed))})"
        for k in sorted(set(group) - allowed)
    ]
    cls = group.get("class")
    if not isinstance(cls, str) or not cls.strip():
        problems.append(f"{where}.class must be a non-empty string, got {cls!r}")
    if "count" not in group:
        problems.append(f"{where} is missing 'count'")
    else:
        count = group["count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            problems.append(f"{where}.count must be an integer >= 1, got {count!r}")
    if "color" in group and group["color"] not in GENEVAL_COLORS:
        problems.append(
            f"{where}.color {group['color']!r} is not a GenEval colour "
            f"({', '.join(GENEVAL_COLORS)})"
        )
    if "position" in group:
        pos = group["position"]
        if not isinstance(pos, (list, tuple)) or len(pos) != 2:
            problems.append(f"{where}.position must be [relation, group index], got {pos!r}")
        else:
            rel, ref = pos
            if rel not in RELATIONS:
                problems.append(
                    f"{where}.position relation {rel!r} is not one of {', '.join(RELATIONS)}"
                )
            if isinstance(ref, bool) or not isinstance(ref, int) or not 0 <= ref < n_before:
                problems.append(
                    f"{where}.position target {ref!r} must index an earlier include group "
                    f"(0..{n_before - 1})"
                    if n_before
                    else f"{where}.position has no earlier include group to point at"
                )
    return problems


def validate_record(record: Any) -> list[str]:
    """All problems of one metadata record (an empty list means it is valid)."""
    if not isinstance(record, dict):
        return [f"a record must be a JSON object, got {type(record).__name__}"]
    problems = []
    tag = record.get("tag")
    if tag not in TAGS:
        problems.append(f"unknown tag {tag!r} (expected one of {', '.join(TAGS)})")
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append(f"'prompt' must be a non-empty string, got {prompt!r}")
    include = record.get("include")
    if not isinstance(include, list) or not include:
        problems.append(f"'include' must be a non-empty list, got {include!r}")
    else:
        for i, group in enumerate(include):
            problems += _check_group(group, "include", i, i)
    exclude = record.get("exclude", [])
    if not isinstance(exclude, list):
        problems.append(f"'exclude' must be a list, got {exclude!r}")
    else:
        for i, group in enumerate(exclude):
            problems += _check_group(group, "exclude", i, 0)
    return problems


def load_metadata(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate a GenEval ``evaluation_metadata.jsonl``.

    Args:
        path: the official file (or one in its format).

    Returns:
        The records in file order (record ``i`` is prompt folder ``{i:05d}``).

    Raises:
        MetadataError: naming ``file:line`` of every bad line (up to 20 of them).
    """
    path = Path(path)
    try:
        lines = read_utf8(path, "GenEval metadata").split("\n")
    except InputFileError as err:
        raise MetadataError(str(err)) from err
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines only; a blank line inside is an error
    records, errors = [], []
    for lineno, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            errors.append(f"{path}:{lineno}: not valid JSON: {err.msg}")
            continue
        problems = validate_record(record)
        errors += [f"{path}:{lineno}: {p}" for p in problems]
        records.append(record)
    if errors:  # one line (the README's promise): the first problem, then a count
        more = f"; ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise MetadataError("invalid GenEval metadata: " + "; ".join(errors[:20]) + more)
    if not records:
        raise MetadataError(f"{path}: no GenEval records")
    return records


def write_metadata(path: str | Path, records: Sequence[dict[str, Any]]) -> Path:
    """Write records as ``evaluation_metadata.jsonl`` (one JSON object per line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_object_names(path: str | Path) -> list[str]:
    """Class names, one per line (the official ``object_names.txt``)."""
    path = Path(path)
    try:
        names = [line.strip() for line in read_utf8(path, "class names").splitlines()]
    except InputFileError as err:
        raise MetadataError(str(err)) from err
    names = [n for n in names if n]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise MetadataError(f"{path}: duplicate class names: {', '.join(dup)}")
    if len(names) < 2:
        raise MetadataError(f"{path}: need at least two class names, found {len(names)}")
    return names


def generate_metadata(
    vocabulary: str,
    n_per_tag: int,
    seed: int,
    object_names: str | Path | None = None,
) -> list[dict[str, Any]]:
    """A seeded GenEval-format prompt set with the official templates and tag rules.

    Args:
        vocabulary: ``"shapes"`` (circle/square/triangle, palette colours) or ``"coco"``
            (the classes of ``object_names``, the ten GenEval colours).
        n_per_tag: records per tag.
        seed: generator seed.
        object_names: path of an ``object_names.txt`` (required for ``"coco"``).

    Raises:
        ValueError: unknown vocabulary or missing class list.
    """
    if n_per_tag < 1:
        raise ValueError(f"n_per_tag must be >= 1, got {n_per_tag}")
    if vocabulary == "shapes":
        records = shapes_metadata_set(n_per_tag, seed)
    elif vocabulary == "coco":
        if object_names is None:
            raise ValueError("vocabulary 'coco' needs object_names: the path of object_names.txt")
        records = make_metadata_set(n_per_tag, seed, read_object_names(object_names))
    else:
        raise ValueError(f"unknown vocabulary {vocabulary!r}; expected 'shapes' or 'coco'")
    for i, rec in enumerate(records):
        problems = validate_record(rec)
        if problems:  # the generator must never emit what the loader rejects
            raise RuntimeError(f"generated record {i} is invalid: {problems}")
    return records

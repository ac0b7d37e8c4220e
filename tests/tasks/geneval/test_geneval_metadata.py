"""GenEval metadata: the official file loads, broken files fail with file:line, generators follow the rules."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from hbench.tasks.geneval.metadata import (
    GENEVAL_COLORS,
    RELATIONS,
    MetadataError,
    generate_metadata,
    load_metadata,
    read_object_names,
    validate_record,
    write_metadata,
)
from hbench.worlds.shapes.geneval_format import NUMBER_WORDS, _phrase, plural

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("HBENCH_GENEVAL_DATA", REPO.parent / "shared" / "data" / "geneval"))
OFFICIAL = DATA / "evaluation_metadata.jsonl"
NAMES = DATA / "object_names.txt"
needs_official = pytest.mark.skipif(
    not OFFICIAL.is_file(),
    reason=f"official GenEval metadata not found at {OFFICIAL} (set HBENCH_GENEVAL_DATA)",
)


@needs_official
def test_all_553_official_prompts_load():
    records = load_metadata(OFFICIAL)
    assert len(records) == 553
    assert Counter(r["tag"] for r in records) == {
        "single_object": 80, "two_object": 99, "counting": 80,
        "colors": 94, "position": 100, "color_attr": 100,
    }  # fmt: skip


def _official_template(r: dict) -> str:
    inc = r["include"]
    if r["tag"] == "single_object":
        return f"a photo of {_phrase(inc[0]['class'])}"
    if r["tag"] == "two_object":
        return f"a photo of {_phrase(inc[0]['class'])} and {_phrase(inc[1]['class'])}"
    if r["tag"] == "counting":
        return f"a photo of {NUMBER_WORDS[inc[0]['count']]} {plural(inc[0]['class'])}"
    if r["tag"] == "colors":
        return f"a photo of {_phrase(inc[0]['class'], inc[0]['color'])}"
    if r["tag"] == "position":
        return f"a photo of {_phrase(inc[1]['class'])} {inc[1]['position'][0]} {_phrase(inc[0]['class'])}"
    return f"a photo of {_phrase(inc[0]['class'], inc[0]['color'])} and {_phrase(inc[1]['class'], inc[1]['color'])}"


@needs_official
def test_generator_templates_reproduce_every_official_prompt():
    # including the official plural quirks ("two sheeps", "three persons", "four knifes")
    for r in load_metadata(OFFICIAL):
        assert _official_template(r) == r["prompt"]


def test_broken_copy_fails_with_file_and_line(tmp_path):
    good = {
        "tag": "single_object",
        "include": [{"class": "dog", "count": 1}],
        "prompt": "a photo of a dog",
    }
    lines = [
        good,
        good,
        {**good, "tag": "single_objects"},  # line 3: bad tag
        good,
        {"tag": "counting", "include": [{"class": "dog"}], "prompt": "a photo of two dogs"},  # line 5
        good,
        {"tag": "position", "prompt": "p", "include": [  # line 7: position points forward
            {"class": "cat", "count": 1, "position": ["left of", 1]}, {"class": "dog", "count": 1}]},
    ]  # fmt: skip
    path = write_metadata(tmp_path / "broken.jsonl", lines)
    with pytest.raises(MetadataError) as err:
        load_metadata(path)
    msg = str(err.value)
    assert f"{path}:3: unknown tag 'single_objects'" in msg
    assert f"{path}:5: include[0] is missing 'count'" in msg
    assert f"{path}:7: include[0].position has no earlier include group" in msg
    assert f"{path}:1:" not in msg and f"{path}:6:" not in msg


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (
            {
                "tag": "colors",
                "prompt": "p",
                "include": [{"class": "car", "count": 1, "color": "teal"}],
            },
            "not a GenEval colour",
        ),
        (
            {
                "tag": "position",
                "prompt": "p",
                "include": [
                    {"class": "a", "count": 1},
                    {"class": "b", "count": 1, "position": ["beside", 0]},
                ],
            },
            "relation 'beside'",
        ),  # fmt: skip
        (
            {
                "tag": "position",
                "prompt": "p",
                "include": [
                    {"class": "a", "count": 1},
                    {"class": "b", "count": 1, "position": ["above", 1]},
                ],
            },
            "must index an earlier include group",
        ),  # fmt: skip
        (
            {"tag": "counting", "prompt": "p", "include": [{"class": "a", "count": 0}]},
            "count must be an integer >= 1",
        ),
        (
            {
                "tag": "counting",
                "prompt": "p",
                "include": [{"class": "a", "count": 2}],
                "exclude": [{"class": "a"}],
            },
            "exclude[0] is missing 'count'",
        ),  # fmt: skip
        ({"tag": "single_object", "prompt": "p", "include": []}, "non-empty list"),
        ({"tag": "single_object", "include": [{"class": "a", "count": 1}]}, "'prompt'"),
        (
            {
                "tag": "single_object",
                "prompt": "p",
                "include": [{"class": "a", "count": 1, "size": 2}],
            },
            "unknown key 'size'",
        ),
    ],
)
def test_validate_record_names_the_problem(record, problem):
    problems = validate_record(record)
    assert any(problem in p for p in problems), problems


def test_invalid_json_and_blank_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    good = json.dumps(
        {"tag": "single_object", "include": [{"class": "a", "count": 1}], "prompt": "p"}
    )
    path.write_text(f"{good}\n\n{{oops\n{good}\n\n")
    with pytest.raises(MetadataError) as err:
        load_metadata(path)
    assert f"{path}:2: not valid JSON" in str(err.value) and f"{path}:3: not valid JSON" in str(
        err.value
    )
    with pytest.raises(MetadataError, match="cannot read"):
        load_metadata(tmp_path / "missing.jsonl")


def _check_tag_rules(records: list[dict], colors: tuple[str, ...]) -> None:
    for r in records:
        assert validate_record(r) == []
        inc = r["include"]
        if r["tag"] == "counting":
            assert 2 <= inc[0]["count"] <= 4
            assert r["exclude"] == [{"class": inc[0]["class"], "count": inc[0]["count"] + 1}]
        if r["tag"] in ("colors", "color_attr"):
            assert all(g["class"] != "person" and g["color"] in colors for g in inc)
        if r["tag"] == "color_attr":
            assert inc[0]["color"] != inc[1]["color"] and inc[0]["class"] != inc[1]["class"]
        if r["tag"] == "position":
            assert inc[1]["position"][0] in RELATIONS and inc[1]["position"][1] == 0
            assert inc[0]["class"] != inc[1]["class"]


@needs_official
def test_coco_generation_follows_the_official_rules():
    records = generate_metadata("coco", 30, seed=7, object_names=NAMES)
    classes = set(read_object_names(NAMES))
    assert len(classes) == 80
    assert {g["class"] for r in records for g in r["include"]} <= classes
    assert Counter(r["tag"] for r in records) == dict.fromkeys(
        Counter(r["tag"] for r in records), 30
    )
    _check_tag_rules(records, GENEVAL_COLORS)
    assert {r["include"][1]["position"][0] for r in records if r["tag"] == "position"} == set(
        RELATIONS
    )
    assert records == generate_metadata("coco", 30, seed=7, object_names=NAMES)  # seeded
    assert records != generate_metadata("coco", 30, seed=8, object_names=NAMES)


def test_shapes_generation_and_errors(tmp_path):
    records = generate_metadata("shapes", 10, seed=0)
    _check_tag_rules(records, ("red", "green", "blue", "yellow", "purple", "orange"))
    assert {g["class"] for r in records for g in r["include"]} <= {"circle", "square", "triangle"}
    with pytest.raises(ValueError, match="object_names"):
        generate_metadata("coco", 5, seed=0)
    with pytest.raises(ValueError, match="unknown vocabulary"):
        generate_metadata("imagenet", 5, seed=0)
    (tmp_path / "names.txt").write_text("cat\ncat\n")
    with pytest.raises(MetadataError, match="duplicate class names: cat"):
        read_object_names(tmp_path / "names.txt")

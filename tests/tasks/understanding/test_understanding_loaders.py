"""Benchmark loaders on tiny synthetic files in the public formats, including bad rows."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hbench.tasks.understanding.loaders import decode_image, load_mmbench, load_mme, load_mmmu


def png_bytes(color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), color, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def b64(color=(200, 30, 30)) -> str:
    return base64.b64encode(png_bytes(color)).decode()


def test_mme_official_folders(tmp_path):
    flat = tmp_path / "existence"
    flat.mkdir()
    (flat / "0001.png").write_bytes(png_bytes())
    (flat / "0001.txt").write_text(
        "Is there a red square? Please answer yes or no.\tYes\n"
        "Is there a dog? Please answer yes or no.\tNo\n"
    )
    (flat / "0002.txt").write_text("Is there a cat?\tNo\n")  # its image is missing
    nested = tmp_path / "artwork"
    (nested / "images").mkdir(parents=True)
    (nested / "questions_answers_YN").mkdir()
    (nested / "images" / "10.jpg").write_bytes(png_bytes())
    (nested / "questions_answers_YN" / "10.txt").write_text(
        "Is this a painting?\tYes\nbroken line without tab\n"
    )
    rows = load_mme(tmp_path)
    ok = [r for r in rows if not r.error]
    bad = [r for r in rows if r.error]
    assert [r.answer for r in ok] == ["Yes", "Yes", "No"]
    assert {r.group for r in ok} == {"artwork/10", "existence/0001"}
    assert any("10.txt line 2" in r.error for r in bad)
    assert any("0002" in r.error and "no image" in r.error for r in bad)
    assert decode_image(ok[0].images[0], ok[0].where).size == (8, 8)


def test_mme_table(tmp_path):
    path = tmp_path / "MME.tsv"
    pd.DataFrame(
        [
            {
                "index": 0,
                "category": "color",
                "image": b64(),
                "question": "Is it red?",
                "answer": "Yes",
            },
            {
                "index": 1,
                "category": "color",
                "image": "",
                "question": "Is it blue?",
                "answer": "No",
            },
        ]
    ).to_csv(path, sep="\t", index=False)
    rows = load_mme(path)
    assert rows[0].error is None and rows[0].category == "color"
    assert "MME.tsv row 2" in rows[1].error and "image" in rows[1].error


def test_mmbench_tsv_with_bad_rows(tmp_path):
    path = tmp_path / "mmbench_dev.tsv"
    base = {
        "question": "What colour?",
        "hint": "",
        "A": "red",
        "B": "blue",
        "C": "green",
        "D": "",
        "answer": "A",
        "category": "color",
        "image": b64(),
    }
    pd.DataFrame(
        [
            {"index": 0, **base},
            {"index": 1000000, **base, "A": "blue", "B": "red", "answer": "B"},  # circular copy
            {"index": 2, **{**base, "answer": ""}},  # missing field
            {"index": 3, **{**base, "image": base64.b64encode(b"not an image").decode()}},
        ]
    ).to_csv(path, sep="\t", index=False)
    rows = load_mmbench(path)
    assert rows[0].options == {"A": "red", "B": "blue", "C": "green"}
    assert rows[0].group == rows[1].group == "0"
    assert "mmbench_dev.tsv row 3" in rows[2].error and "answer" in rows[2].error
    with pytest.raises(ValueError, match="mmbench_dev.tsv row 4: image does not decode"):
        decode_image(rows[3].images[0], rows[3].where)


def test_mmmu_jsonl_and_parquet(tmp_path):
    recs = [
        {
            "id": "validation_Art_1",
            "question": "<image 1> Which colour?",
            "options": "['red', 'blue']",
            "answer": "A",
            "question_type": "multiple-choice",
            "image_1": {"bytes": png_bytes(), "path": None},
            "subfield": "Art",
        },
        {
            "id": "validation_Math_2",
            "question": "<image 1> How many?",
            "options": "[]",
            "answer": "3",
            "question_type": "open",
            "image_1": {"bytes": png_bytes(), "path": None},
            "subfield": "Math",
        },
        {
            "id": "validation_Math_3",
            "question": "no image",
            "options": "[]",
            "answer": "3",
            "question_type": "open",
            "image_1": None,
            "subfield": "Math",
        },
    ]
    pq = tmp_path / "validation.parquet"
    pd.DataFrame(recs).to_parquet(pq)
    rows = load_mmmu(pq)
    assert rows[0].kind == "choice" and rows[0].options == {"A": "red", "B": "blue"}
    assert rows[1].kind == "open" and rows[1].answer == "3"
    assert "validation.parquet row 3" in rows[2].error
    assert decode_image(rows[0].images[0], rows[0].where).mode == "RGB"
    jl = tmp_path / "mmmu.jsonl"
    (tmp_path / "img.png").write_bytes(png_bytes())
    lines = [
        json.dumps({**recs[0], "image_1": "img.png"}),
        "{broken json",
        json.dumps({"id": "x", "question": "q"}),
    ]
    jl.write_text("\n".join(lines) + "\n")
    rows = load_mmmu(jl)
    assert rows[0].error is None and decode_image(rows[0].images[0], rows[0].where).size == (8, 8)
    assert "mmmu.jsonl line 2" in rows[1].error
    assert "mmmu.jsonl row 3" in rows[2].error and "answer" in rows[2].error


def test_missing_paths_fail_early(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_mmbench(tmp_path / "nope.tsv")
    with pytest.raises(FileNotFoundError):
        load_mme(tmp_path / "nope")

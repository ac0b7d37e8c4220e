"""Summary numbers as summary_scores.py computes them; the official folder layout both ways."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hbench.tasks.geneval.layout import LayoutError, read_layout, sample_path, save_sample
from hbench.tasks.geneval.metadata import MetadataError
from hbench.tasks.geneval.summary import (
    format_summary,
    prompt_agreement,
    read_results,
    summary_scores,
    write_results,
)


def _rows(seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    tags = ["single_object", "two_object", "counting", "colors", "position", "color_attr"]
    rows = []
    for p in range(30):
        tag = tags[int(rng.integers(len(tags)))]
        meta = json.dumps(
            {"tag": tag, "prompt": f"prompt {p}", "include": [{"class": "a", "count": 1}]}
        )
        for s in range(4):
            rows.append({"filename": f"{p:05d}/samples/{s:04d}.png", "tag": tag, "prompt": f"prompt {p}",
                         "correct": bool(rng.random() < 0.4), "reason": "", "metadata": meta,
                         "details": "{}"})  # fmt: skip
    return rows


def test_summary_matches_the_pandas_computation_of_summary_scores(tmp_path):
    rows = _rows()
    path = tmp_path / "results.jsonl"
    # written the way the official evaluator writes it
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    df = pd.read_json(path, orient="records", lines=True)
    task_scores = [g["correct"].mean() for _, g in df.groupby("tag", sort=False)]
    ours = summary_scores(read_results(path))
    assert ours["total_images"] == len(df) == 120
    assert ours["total_prompts"] == len(df.groupby("metadata")) == 30
    assert ours["correct_images"] == pytest.approx(df["correct"].mean())
    assert ours["correct_prompts"] == pytest.approx(df.groupby("metadata")["correct"].any().mean())
    assert ours["overall"] == pytest.approx(np.mean(task_scores))
    assert list(ours["tags"]) == list(df["tag"].unique())  # order of first appearance
    text = format_summary(ours)
    assert f"Overall score (avg. over tasks): {np.mean(task_scores):.5f}" in text
    assert f"% correct prompts: {df.groupby('metadata')['correct'].any().mean():.2%}" in text


def test_results_roundtrip_and_agreement(tmp_path):
    rows = _rows(1)
    path = write_results(tmp_path / "r.jsonl", rows)
    back = read_results(path)
    assert back == rows
    assert list(json.loads(path.read_text().splitlines()[0])) == [
        "filename", "tag", "prompt", "correct", "reason", "metadata", "details",
    ]  # fmt: skip
    agree = prompt_agreement([
        {"metadata": "a", "correct": True}, {"metadata": "a", "correct": True},
        {"metadata": "b", "correct": True}, {"metadata": "b", "correct": False},
        {"metadata": "b", "correct": False}, {"metadata": "b", "correct": False},
    ])  # fmt: skip
    assert agree == {
        "mean_agreement": (1.0 + 0.75) / 2,
        "all_samples_agree": 0.5,
        "samples_per_prompt": 3.0,
    }
    with pytest.raises(ValueError):
        summary_scores([])
    (tmp_path / "bad.jsonl").write_text('{"tag": "a", "correct": true}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: missing column\(s\) metadata"):
        read_results(tmp_path / "bad.jsonl")


META = {
    "tag": "single_object",
    "include": [{"class": "circle", "count": 1}],
    "prompt": "a photo of a circle",
}


def test_layout_write_and_read(tmp_path):
    img = Image.new("RGB", (8, 8), "red")
    for index in (0, 12):
        for s in range(4):
            save_sample(tmp_path, index, s, img, META)
    assert sample_path(tmp_path, 12, 3) == tmp_path / "00012" / "samples" / "0003.png"
    assert json.loads((tmp_path / "00012" / "metadata.jsonl").read_text()) == META
    folders = read_layout(tmp_path)
    assert [f.index for f in folders] == [0, 12]
    assert [p.name for p in folders[1].samples] == ["0000.png", "0001.png", "0002.png", "0003.png"]


def test_layout_reads_folders_written_elsewhere(tmp_path):
    # the official generation script names samples 00000.png ... and adds grid.png
    for index in (10, 2):
        folder = tmp_path / f"{index:05d}"
        (folder / "samples").mkdir(parents=True)
        (folder / "metadata.jsonl").write_text(json.dumps(META))
        for s in (10, 2, 0):
            Image.new("RGB", (4, 4)).save(folder / "samples" / f"{s:05d}.png")
        Image.new("RGB", (4, 4)).save(folder / "grid.png")
        (folder / "samples" / "notes.txt").write_text("ignored")
    (tmp_path / "results").mkdir()  # not all digits: ignored as the official does
    folders = read_layout(tmp_path)
    assert [f.index for f in folders] == [2, 10]
    assert [p.name for p in folders[0].samples] == ["00000.png", "00002.png", "00010.png"]


def test_layout_errors_name_the_path(tmp_path):
    with pytest.raises(LayoutError, match="no prompt folders"):
        read_layout(tmp_path)
    (tmp_path / "00000").mkdir()
    with pytest.raises(LayoutError, match="00000: missing metadata.jsonl"):
        read_layout(tmp_path)
    (tmp_path / "00000" / "metadata.jsonl").write_text(json.dumps({**META, "tag": "bogus"}))
    with pytest.raises(MetadataError, match=r"00000/metadata.jsonl: unknown tag 'bogus'"):
        read_layout(tmp_path)

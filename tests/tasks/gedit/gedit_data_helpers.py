"""GEdit-Bench-format datasets built with ``datasets`` for the gedit tests."""

from __future__ import annotations

import io

from PIL import Image


def _png(color, size=(24, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def gedit_rows() -> list[dict]:
    """Six rows over three task types, two languages, with and without intersection."""
    rows = []
    spec = [("color_alter", "en", True), ("color_alter", "cn", True), ("subject-add", "en", False),
            ("subject-add", "cn", True), ("tone_transfer", "en", True), ("background_change", "en", False)]  # fmt: skip
    for i, (task, lang, inter) in enumerate(spec):
        rows.append({
            "task_type": task,
            "key": f"k{i:02d}",
            "instruction": f"edit number {i}" if lang == "en" else f"编辑 {i}",
            "instruction_language": lang,
            "input_image": {"bytes": _png((10 * i, 0, 0)), "path": None},
            "input_image_raw": {"bytes": _png((10 * i, 0, 0), size=(48, 32)), "path": None},
            "Intersection_exist": inter,
        })  # fmt: skip
    return rows


def dataset(rows):
    import datasets

    features = datasets.Features({
        "task_type": datasets.Value("string"), "key": datasets.Value("string"),
        "instruction": datasets.Value("string"), "instruction_language": datasets.Value("string"),
        "input_image": datasets.Image(), "input_image_raw": datasets.Image(),
        "Intersection_exist": datasets.Value("bool"),
    })  # fmt: skip
    return datasets.Dataset.from_list(rows, features=features)


def make_parquet(path, rows):
    """Write ``rows`` as a GEdit-format parquet file (for error cases)."""
    dataset(rows).to_parquet(str(path))
    return path

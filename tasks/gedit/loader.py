"""GEdit-Bench from local files, as its public dataset stores it.

Accepted layouts (``path`` is a file or a directory):

* parquet files (``*.parquet``, e.g. the hub layout ``data/train-00000-of-00001.parquet``);
* a ``datasets`` ``save_to_disk`` directory or any folder of ``*.arrow`` files (Arrow IPC
  stream or file format), e.g. ``train/data-00000-of-00001.arrow``.

Rows carry ``task_type, key, instruction, instruction_language, input_image,
input_image_raw, Intersection_exist``; image cells are ``datasets`` Image structs
(``{"bytes": ..., "path": ...}``). Metadata is read eagerly and checked row by row
(errors name the file, row and field); images stay in the Arrow tables (memory-mapped for
``.arrow`` files) and are decoded on demand.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from PIL import Image

GEDIT_TASK_TYPES: tuple[str, ...] = (
    "background_change", "color_alter", "material_alter", "motion_change", "ps_human",
    "style_change", "subject-add", "subject-remove", "subject-replace", "text_change",
    "tone_transfer",
)  # fmt: skip
FIELDS: tuple[str, ...] = (
    "task_type", "key", "instruction", "instruction_language", "input_image",
    "input_image_raw", "Intersection_exist",
)  # fmt: skip
IMAGE_FIELDS: tuple[str, ...] = ("input_image", "input_image_raw")


@dataclass(frozen=True)
class GEditRow:
    """Metadata of one GEdit-Bench sample and where its images are."""

    task_type: str
    key: str
    instruction: str
    language: str
    intersection: bool
    file: int  # index into GEditData.files
    row: int  # row inside that file's table


def _data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"GEdit-Bench path {str(path)!r} does not exist")
    # cache-*.arrow are datasets' map/filter caches beside the data, not data files
    arrows = [p for p in sorted(path.rglob("*.arrow")) if not p.name.startswith("cache-")]
    files = sorted(path.rglob("*.parquet")) + arrows
    if not files:
        raise FileNotFoundError(f"no *.parquet or *.arrow files under {str(path)!r}")
    return files


def _read_table(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path, memory_map=True)
    if path.suffix != ".arrow":
        raise ValueError(f"{path}: expected a .parquet or .arrow file")
    source = pa.memory_map(str(path), "r")
    try:
        return ipc.open_stream(source).read_all()  # what datasets' save_to_disk writes
    except pa.ArrowInvalid:
        return ipc.open_file(source).read_all()


def _check_row(path: Path, i: int, rec: dict) -> None:
    where = f"{path} row {i}"
    for name in ("task_type", "key", "instruction", "instruction_language"):
        if not isinstance(rec[name], str) or not rec[name]:
            raise ValueError(
                f"{where}: field {name!r} must be a non-empty string, got {rec[name]!r}"
            )
    if rec["task_type"] not in GEDIT_TASK_TYPES:
        raise ValueError(
            f"{where}: task_type {rec['task_type']!r} is not a GEdit-Bench task type "
            f"({', '.join(GEDIT_TASK_TYPES)})"
        )
    if not isinstance(rec["Intersection_exist"], bool):
        raise ValueError(
            f"{where}: field 'Intersection_exist' must be a bool, got {rec['Intersection_exist']!r}"
        )


class GEditData:
    """The rows of a local GEdit-Bench copy and on-demand image decoding."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.files = _data_files(self.path)
        self.tables: list[pa.Table] = []
        self.rows: list[GEditRow] = []
        for fi, file in enumerate(self.files):
            table = _read_table(file)
            missing = [f for f in FIELDS if f not in table.column_names]
            if missing:
                raise ValueError(
                    f"{file}: missing GEdit-Bench field(s) {', '.join(missing)} "
                    f"(has: {', '.join(table.column_names)})"
                )
            meta = table.select([f for f in FIELDS if f not in IMAGE_FIELDS]).to_pylist()
            for i, rec in enumerate(meta):
                _check_row(file, i, rec)
                self.rows.append(GEditRow(rec["task_type"], rec["key"], rec["instruction"],
                                          rec["instruction_language"], rec["Intersection_exist"], fi, i))  # fmt: skip
            self.tables.append(table)

    def image(self, row: GEditRow, field: str) -> Image.Image:
        """Decode ``field`` (``input_image`` or ``input_image_raw``) of ``row`` as RGB."""
        if field not in IMAGE_FIELDS:
            raise ValueError(
                f"unknown image field {field!r}; expected one of {', '.join(IMAGE_FIELDS)}"
            )
        file = self.files[row.file]
        cell = self.tables[row.file].column(field)[row.row].as_py()
        where = f"{file} row {row.row} field {field!r}"
        if isinstance(cell, dict) and cell.get("bytes"):
            data = io.BytesIO(cell["bytes"])
        elif isinstance(cell, dict) and cell.get("path"):
            img_path = Path(cell["path"])
            img_path = img_path if img_path.is_absolute() else file.parent / img_path
            if not img_path.is_file():
                raise FileNotFoundError(f"{where}: image file {str(img_path)!r} not found")
            data = io.BytesIO(img_path.read_bytes())
        elif isinstance(cell, bytes | bytearray):
            data = io.BytesIO(cell)
        else:
            raise ValueError(f"{where}: not an image cell ({type(cell).__name__})")
        try:
            with Image.open(data) as im:
                return im.convert("RGB")
        except OSError as err:
            raise ValueError(f"{where}: cannot decode image: {err}") from err


def fit_area(width: int, height: int, area: int = 512 * 512, multiple: int = 32) -> tuple[int, int]:
    """Size with the aspect of ``width x height``, sides multiples of ``multiple``, near ``area``.

    GEdit-Bench's generation example resizes ``input_image_raw`` by this rule before
    editing: round both sides to the multiple, then widen by one step if the area fell
    short, or narrow by one step if it overshot.

    >>> fit_area(1024, 768)
    (608, 448)
    """
    ratio = width / height
    w = math.sqrt(area * ratio)
    h = w / ratio
    w_r, h_r = round(w / multiple) * multiple, round(h / multiple) * multiple
    if w_r * h_r < area:
        w_r += multiple
    elif w_r * h_r > area:
        w_r -= multiple
    return int(w_r), int(h_r)

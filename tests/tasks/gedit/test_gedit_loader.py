"""GEdit-Bench loading from parquet and ``save_to_disk`` directories, and its checks."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from gedit_data_helpers import gedit_rows, make_parquet

from hbench.tasks.gedit.loader import GEditData, fit_area


@pytest.mark.parametrize("fixture", ["gedit_saved", "gedit_parquet"])
def test_both_layouts_load_the_same_rows(fixture, request):
    data = GEditData(request.getfixturevalue(fixture))
    assert len(data.files) == 1
    got = [(r.task_type, r.key, r.instruction, r.language, r.intersection) for r in data.rows]
    want = [(r["task_type"], r["key"], r["instruction"], r["instruction_language"], r["Intersection_exist"])
            for r in gedit_rows()]  # fmt: skip
    assert got == want
    row = data.rows[3]
    src, raw = data.image(row, "input_image"), data.image(row, "input_image_raw")
    assert (src.size, raw.size) == ((24, 16), (48, 32)) and src.getpixel((0, 0)) == (30, 0, 0)


def test_bad_rows_name_file_row_and_field(tmp_path):
    rows = gedit_rows()
    rows[2]["task_type"] = "subject_add"
    path = make_parquet(tmp_path / "bad.parquet", rows)
    with pytest.raises(
        ValueError, match=r"bad.parquet row 2: task_type 'subject_add' is not a GEdit-Bench"
    ):
        GEditData(path)
    table = pq.read_table(make_parquet(tmp_path / "ok.parquet", gedit_rows())).drop_columns(
        ["Intersection_exist"]
    )
    pq.write_table(table, tmp_path / "nofield.parquet")
    with pytest.raises(
        ValueError, match=r"nofield.parquet: missing GEdit-Bench field\(s\) Intersection_exist"
    ):
        GEditData(tmp_path / "nofield.parquet")
    table = pq.read_table(tmp_path / "ok.parquet")
    table = table.set_column(table.column_names.index("input_image"), "input_image",
                             pa.array([{"bytes": b"not a png", "path": None}] * 6, table.schema.field("input_image").type))  # fmt: skip
    pq.write_table(table, tmp_path / "badimg.parquet")
    data = GEditData(tmp_path / "badimg.parquet")
    with pytest.raises(
        ValueError, match=r"badimg.parquet row 0 field 'input_image': cannot decode"
    ):
        data.image(data.rows[0], "input_image")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GEditData(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no \\*.parquet or \\*.arrow files"):
        GEditData(tmp_path / "empty")


def test_fit_area_matches_the_official_resize_rule():
    assert fit_area(512, 512) == (512, 512)
    assert fit_area(1024, 768) == (608, 448)
    assert fit_area(300, 900) == (320, 896)


def test_datasets_cache_files_are_not_data(gedit_saved, tmp_path):
    import shutil

    copy = tmp_path / "saved"
    shutil.copytree(gedit_saved, copy)
    data_file = next(copy.rglob("data-*.arrow"))
    shutil.copy(data_file, data_file.parent / "cache-0123abcd.arrow")
    assert len(GEditData(copy).rows) == 6

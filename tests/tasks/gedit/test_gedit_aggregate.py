"""GEdit-Bench aggregation against hand-computed values of the official formulas."""

import math

import pytest

from hbench.tasks.gedit.aggregate import (
    ScoreRow,
    aggregate,
    format_table,
    read_official_csv,
    read_official_dir,
    write_official_csvs,
)
from hbench.tasks.gedit.loader import GEDIT_TASK_TYPES

ROWS = [
    ScoreRow("background_change", "en", 8, 2, True, "a"),
    ScoreRow("background_change", "en", 4, 9, False, "b"),
    ScoreRow("color_alter", "en", 9, 4, True, "c"),
    ScoreRow("background_change", "cn", 0, 10, True, "d"),
]


def test_per_type_means_recompute_o_per_sample():
    s = aggregate(ROWS, "en", ("background_change", "color_alter"))
    full = s.fullset
    assert full.semantics == {"background_change": 6.0, "color_alter": 9.0}
    assert full.quality == {"background_change": 5.5, "color_alter": 4.0}
    # O per sample: sqrt(8*2)=4, sqrt(4*9)=6 -> 5; not sqrt(6 * 5.5) of the means.
    assert full.overall == {"background_change": 5.0, "color_alter": 6.0}
    assert full.n == {"background_change": 2, "color_alter": 1}
    # Unweighted mean over task types (not over samples: that would give SC 7.0).
    assert (full.avg_semantics, full.avg_quality, full.avg_overall) == (7.5, 4.75, 5.5)


def test_intersection_subset():
    inter = aggregate(ROWS, "en", ("background_change", "color_alter")).intersection
    assert inter.semantics == {"background_change": 8.0, "color_alter": 9.0}
    assert inter.overall == {"background_change": 4.0, "color_alter": 6.0}
    assert (inter.avg_semantics, inter.avg_quality, inter.avg_overall) == (8.5, 3.0, 5.0)


def test_empty_task_type_is_nan_and_makes_the_average_nan_as_official():
    s = aggregate(ROWS, "en", ("background_change", "color_alter", "material_alter"))
    assert math.isnan(s.fullset.semantics["material_alter"]) and s.fullset.n["material_alter"] == 0
    assert math.isnan(s.fullset.avg_overall) and math.isnan(s.intersection.avg_semantics)
    assert s.fullset.to_json()["overall"]["material_alter"] is None
    assert s.fullset.to_json()["avg_overall"] is None


def test_languages_are_separate_and_default_groups_are_the_eleven_types():
    cn = aggregate(ROWS, "cn")
    assert tuple(cn.fullset.semantics) == GEDIT_TASK_TYPES
    assert cn.fullset.semantics["background_change"] == 0.0
    assert cn.fullset.overall["background_change"] == 0.0
    assert math.isnan(cn.fullset.semantics["color_alter"])
    # every type filled -> a finite average over all eleven
    rows = [
        ScoreRow(t, "en", i % 11, 10 - i % 11, i % 2 == 0) for i, t in enumerate(GEDIT_TASK_TYPES)
    ]
    full = aggregate(rows, "en").fullset
    want = sum(math.sqrt((i % 11) * (10 - i % 11)) for i in range(11)) / 11
    assert full.avg_overall == pytest.approx(want)


def test_csv_round_trip_in_the_official_layout(tmp_path):
    groups = ("background_change", "color_alter")
    paths = write_official_csvs(ROWS, tmp_path, "mymodel", groups)
    assert [p.name for p in paths] == [
        "mymodel_background_change_gpt_score.csv",
        "mymodel_color_alter_gpt_score.csv",
        "mymodel_combined_gpt_score.csv",
    ]
    header = paths[0].read_text().splitlines()[0]
    assert header == (
        "source_image,edited_image,instruction,sementics_score,quality_score,"
        "intersection_exist,instruction_language"
    )
    back = read_official_dir(tmp_path, "mymodel", groups)
    for lang in ("en", "cn"):
        got, want = aggregate(back, lang, groups), aggregate(ROWS, lang, groups)
        assert got.fullset.to_json() == want.fullset.to_json()  # NaN -> None, so == works
        assert got.intersection.to_json() == want.intersection.to_json()
    with pytest.raises(FileNotFoundError, match="mymodel_material_alter_gpt_score.csv"):
        read_official_dir(tmp_path, "mymodel", (*groups, "material_alter"))


def test_bad_csv_names_file_and_line(tmp_path):
    path = tmp_path / "m_color_alter_gpt_score.csv"
    path.write_text(
        "source_image,edited_image,instruction,sementics_score,quality_score,intersection_exist,"
        "instruction_language\ns.png,e.png,do it,7,8,maybe,en\n"
    )
    with pytest.raises(ValueError, match=r"line 2: intersection_exist"):
        read_official_csv(path, "color_alter")


def test_format_table_prints_official_lines():
    text = format_table(aggregate(ROWS, "en", ("background_change", "color_alter")))
    assert "background_change: 6.000, 5.500, 5.000" in text
    assert "Average: 7.500, 4.750, 5.500" in text
    assert "Average Intersection: 8.500, 3.000, 5.000" in text

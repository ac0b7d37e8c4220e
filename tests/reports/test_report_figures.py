"""Paper figures: declared print widths, embedded TrueType fonts, fonts >= 7 pt, roles,
the Pareto frontier, per-position acceptance, stages, and ``--figures-only --style paper``."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pytest
from PIL import Image

from hbench.reports import figure_frontier, figure_latency, figures, grids, roles, text
from hbench.reports.cli import main
from hbench.reports.figure_io import FONT_MIN_PT, KNOWN_COLOURS, ONE_COLUMN, TWO_COLUMN
from hbench.reports.run import load_run

PLOTS = ("speedup", "frontier", "latency", "acceptance", "grid_geneval", "grid_gedit")


def _pdf_streams(pdf: bytes) -> list[bytes]:
    """Every stream of the PDF, inflated when it is Flate-compressed."""
    out = []
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", pdf, re.S):
        start = m.end()
        end = pdf.index(b"endstream", start)
        raw = pdf[start:end]  # may end with the EOL before "endstream": inflate ignores it
        out.append(zlib.decompressobj().decompress(raw) if b"/FlateDecode" in m.group(1) else raw)
    return out


def pdf_facts(path: Path) -> dict:
    """MediaBox width/height (pt), embedded font programs, Type 3 fonts, text sizes (pt)."""
    pdf = path.read_bytes()
    box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    x0, y0, x1, y1 = (float(v) for v in box.groups())
    sizes = [float(s) for st in _pdf_streams(pdf) for s in re.findall(rb"/F\d+ ([\d.]+) Tf", st)]
    return {
        "width": x1 - x0,
        "height": y1 - y0,
        "fontfiles": len(re.findall(rb"/FontFile[23]\b", pdf)),
        "fonts": len(re.findall(rb"/Type\s*/Font\b", pdf)),
        "type3": len(re.findall(rb"/Subtype\s*/Type3", pdf)),
        "sizes": sizes,
    }


@pytest.mark.parametrize("style", ["screen", "paper"])
def test_pdfs_have_declared_width_embedded_fonts_and_print_sized_text(
    demo_run: Path, tmp_path: Path, style: str
) -> None:
    out = tmp_path / "figs"
    assert main([str(demo_run), "--out", str(out), "--figures-only", "--style", style]) == 0
    assert not (out / "index.html").exists() and not (out / "tables").exists()
    for name in PLOTS:
        facts = pdf_facts(out / "figures" / f"{name}.pdf")
        declared = grids.GRID_WIDTH if name.startswith("grid_") else figures.FIGURE_WIDTHS[name]
        assert declared in (ONE_COLUMN, TWO_COLUMN)
        assert facts["width"] == pytest.approx(declared * 72, abs=0.01), name
        assert facts["fonts"] >= 1 and facts["fontfiles"] >= 1, name  # TrueType embedded
        assert facts["type3"] == 0, name
        assert facts["sizes"] and min(facts["sizes"]) >= FONT_MIN_PT, (name, facts["sizes"])
        with Image.open(out / "figures" / f"{name}.png") as png:
            dpi = 300 if style == "paper" else 150
            assert png.size[0] == pytest.approx(declared * dpi, abs=2)


def test_pdf_parser_sees_a_missing_font_program(tmp_path: Path) -> None:
    # control: with Type 3 fonts (matplotlib's pdf.fonttype 3) the check above would fail
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context({"pdf.fonttype": 3, "font.size": 6}):
        fig = Figure(figsize=(2.0, 1.0))
        fig.text(0.1, 0.5, "type three")
        fig.savefig(tmp_path / "t3.pdf")
    facts = pdf_facts(tmp_path / "t3.pdf")
    assert facts["type3"] >= 1 and facts["fontfiles"] == 0
    assert facts["width"] == pytest.approx(144.0) and min(facts["sizes"]) < FONT_MIN_PT


def _with_roles(run_dir: Path, roles_map: dict[str, str]) -> Path:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["system"]["roles"] = roles_map
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


def test_bounds_get_no_speedup_rows(fresh_run: Path) -> None:
    run = load_run(fresh_run)
    assert {r[1] for r in figures._speedup_rows([run])} == {"nfe6", "nfe1", "spec"}
    run = load_run(_with_roles(fresh_run, {"nfe1": "oracle", "baseline": "reference"}))
    assert roles.role(run, "nfe1") == roles.BOUND and roles.role(run, "nfe6") == roles.CANDIDATE
    assert {r[1] for r in figures._speedup_rows([run])} == {"nfe6", "spec"}
    # without declared roles, a variant named or described as an oracle is a bound
    manifest = json.loads((fresh_run / "manifest.json").read_text())
    del manifest["system"]["roles"]
    manifest["system"]["variants"]["nfe6"] = {"image": {"kind": "oracle"}}
    (fresh_run / "manifest.json").write_text(json.dumps(manifest))
    assert roles.role(load_run(fresh_run), "nfe6") == roles.BOUND


def test_bad_role_is_named(fresh_run: Path) -> None:
    run = load_run(_with_roles(fresh_run, {"nfe1": "turbo"}))
    with pytest.raises(ValueError, match="roles.nfe1 is 'turbo'"):
        roles.role(run, "nfe1")


def test_speedup_rows_carry_the_nfe_ratio_where_nfe_changes(demo_run: Path) -> None:
    rows = {r[0]: r for r in figures._speedup_rows([load_run(demo_run)])}
    assert rows["geneval · nfe6"][4] == pytest.approx(100 / 6)  # fixture: 100 NFE -> 6
    # fixture: gedit's baseline makes 50 calls for 132 NFE, nfe6 6 for 6: the NFE ratio (22)
    # is the larger of the two ratios (the call ratio is 50 / 6)
    assert rows["gedit · nfe6"][4] == pytest.approx(132 / 6)
    assert rows["understanding · spec"][4] is None  # no NFE on text: no limit drawn


def test_pareto_front_joins_only_non_dominated_points() -> None:
    # (cost, score): (10, 0.5) is dominated by (5, 0.6); (5, 0.6) ties on cost with (5, 0.4)
    points = [(1, 0.2), (10, 0.5), (5, 0.6), (5, 0.4), (20, 0.9), (30, 0.9)]
    assert figure_frontier.pareto_front(points) == [0, 2, 4]
    assert figure_frontier.pareto_front([(1.0, 1.0)]) == [0]


def test_quality_point_is_the_unweighted_group_mean(demo_run: Path) -> None:
    from hbench.reports import data

    run = load_run(demo_run)
    name, d = figure_frontier.quality_point(run, "geneval", "baseline")
    means = data.group_means(run, "geneval", "baseline", "correct")
    assert name == "overall"
    assert d.mean_diff == pytest.approx(sum(m for m, _ in means.values()) / len(means))
    assert d.ci_low <= d.mean_diff <= d.ci_high and d.ci_low < d.ci_high


def test_acceptance_per_position_read_from_details(fresh_run: Path) -> None:
    # the understanding and latency suites keep the per-sample list in ``details``
    lines = (fresh_run / "records.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    moved = 0
    for r in records:
        for place in (r.get("output") or {}, (r.get("profile") or {}).get("stages") or {}):
            if "accept_per_position" in place:
                r["details"]["accept_per_position"] = place.pop("accept_per_position")
                moved += 1
    (fresh_run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    per_pos = text.acceptance_per_position(load_run(fresh_run), "understanding", "spec")
    assert moved == 8 and len(per_pos) == 4 and all(n == 8 for _, n in per_pos)
    assert all(0 < rate < 1 for rate, _ in per_pos)


def test_stages_split_the_time_without_overlap() -> None:
    text_rec = {"metrics": {"seconds": 1.0, "prefill_s": 0.1, "decode_s": 0.8, "draft_s": 0.3,
                            "verify_s": 0.4}}  # fmt: skip
    parts = figure_latency.stage_seconds(text_rec)
    assert parts == pytest.approx(
        {"prefill_s": 0.1, "draft_s": 0.3, "verify_s": 0.4, "decode_s": 0.1, "glue": 0.1}
    )
    image_rec = {"metrics": {"seconds": 2.0},
                 "profile": {"modules": {"generator": {"seconds": 1.5}, "vae_decoder":
                             {"seconds": 0.3}, "language_model": {"seconds": 0.0}}}}  # fmt: skip
    parts = figure_latency.stage_seconds(image_rec)
    assert parts == pytest.approx({"generator": 1.5, "vae_decoder": 0.3, "glue": 0.2})
    assert sum(parts.values()) == pytest.approx(2.0)


def test_each_known_variant_keeps_one_distinct_colour() -> None:
    assert len(set(KNOWN_COLOURS.values())) == len(KNOWN_COLOURS)


def test_acceptance_per_position_pools_the_runtime_counts(fresh_run: Path) -> None:
    # sample A: drafted positions 1-3 once, accepted 1-2; sample B: rejected at position 1,
    # so positions 2-3 were never drafted (the runtime's rate list says 0.0 there)
    a = {"drafted_per_position": [1, 1, 1], "accepted_per_position": [1, 1, 0],
         "accept_per_position": [1.0, 1.0, 0.0]}  # fmt: skip
    b = {"drafted_per_position": [1, 0, 0], "accepted_per_position": [0, 0, 0],
         "accept_per_position": [0.0, 0.0, 0.0]}  # fmt: skip
    records = [json.loads(line) for line in (fresh_run / "records.jsonl").read_text().splitlines()]
    spec = [r for r in records if r["suite"] == "understanding" and r["variant"] == "spec"]
    for i, r in enumerate(spec):
        r["output"].pop("accept_per_position", None)
        ((r.get("profile") or {}).get("stages") or {}).pop("accept_per_position", None)
        r["details"].update(a if i % 2 else b)
    (fresh_run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    ok = len(load_run(fresh_run).ok_records("understanding", "spec"))
    n_a = sum(1 for i, r in enumerate(spec) if i % 2 and not r.get("error"))
    per_pos = text.acceptance_per_position(load_run(fresh_run), "understanding", "spec")
    # position 1: drafted by every sample, accepted by the A samples only; positions 2-3:
    # only the A samples drafted them (the mean of the per-sample rates would say n_a / ok)
    assert per_pos == [(pytest.approx(n_a / ok), ok), (1.0, n_a), (0.0, n_a)]

"""``hbench report`` on a demo run: every artifact, deterministic bytes, escaped text."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from conftest import PWN_PROMPT, QUOTE_INSTRUCTION, SCRIPT_PROMPT
from PIL import Image

from hbench.reports.build import build_report

FIGURES = {"speedup", "frontier", "latency", "acceptance", "grid_geneval", "grid_gedit"}
TABLES = {"verdict", "runs", "summary", "speedup", "latency", "geneval_correct", "gedit_o", "gedit_sc",
          "gedit_pq", "exact_match", "divergences", "grid_geneval", "grid_gedit"}  # fmt: skip


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_report_writes_html_markdown_figures_and_latex(demo_report: Path) -> None:
    assert (demo_report / "index.html").stat().st_size > 10_000
    assert (demo_report / "summary.md").stat().st_size > 1_000
    for name in FIGURES:
        png, pdf = demo_report / "figures" / f"{name}.png", demo_report / "figures" / f"{name}.pdf"
        with Image.open(png) as image:
            image.verify()
        assert pdf.read_bytes().startswith(b"%PDF-")
    assert {p.stem for p in (demo_report / "figures").glob("*.png")} == FIGURES
    assert {p.stem for p in (demo_report / "tables").glob("*.tex")} == TABLES
    markdown = (demo_report / "summary.md").read_text()
    for name in FIGURES:
        assert f"](figures/{name}.png)" in markdown
    html = (demo_report / "index.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == len(FIGURES)
    assert "Not shown" not in html  # the demo run has every suite


def test_same_run_renders_to_the_same_bytes(demo_run: Path, demo_report: Path, tmp_path) -> None:
    again = tmp_path / "again"
    build_report([demo_run], again)
    first, second = _files(demo_report), _files(again)
    assert sorted(first) == sorted(second)
    changed = [name for name in first if first[name] != second[name]]
    assert changed == []


def test_figures_carry_no_dates(demo_report: Path) -> None:
    for pdf in (demo_report / "figures").glob("*.pdf"):
        data = pdf.read_bytes()
        assert b"CreationDate" not in data and b"ModDate" not in data
    for png in (demo_report / "figures").glob("*.png"):
        with Image.open(png) as image:
            assert not {"Software", "Creation Time", "date:create"} & set(image.info)


def test_html_escapes_dataset_text_and_allows_no_script(demo_report: Path) -> None:
    html = (demo_report / "index.html").read_text()
    assert not re.search(r"<\s*script", html, re.IGNORECASE)
    assert "onerror=" not in html.replace("onerror=&quot;", "")  # only as escaped text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;document.body.setAttribute(" in html
    assert "make the &quot;red&quot; circle blue &amp; keep the &lt;b&gt;square&lt;/b&gt;" in html
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    csp = unescape(found.group(1))
    assert csp.startswith("default-src 'none'; img-src data:; style-src 'sha256-")
    assert "script-src" not in csp and "unsafe" not in csp


def test_markdown_and_latex_escape_dataset_text(demo_report: Path) -> None:
    markdown = (demo_report / "summary.md").read_text()
    assert SCRIPT_PROMPT not in markdown and PWN_PROMPT not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "&lt;b&gt;square&lt;/b&gt;" in markdown and QUOTE_INSTRUCTION not in markdown
    grid = (demo_report / "tables" / "grid_gedit.tex").read_text()
    assert r"make the \textquotedbl{}red\textquotedbl{} circle blue \& keep" in grid


def test_latex_tables_are_booktabs_with_consistent_columns(demo_report: Path) -> None:
    for tex in (demo_report / "tables").glob("*.tex"):
        text = tex.read_text()
        for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}", r"\end{table}"):
            assert text.count(rule) == 1, (tex.name, rule)
        spec = re.search(r"\\begin\{tabular\}\{([lrc]+)\}", text).group(1)
        body = text.split(r"\toprule")[1].split(r"\bottomrule")[0]
        rows = [ln for ln in body.splitlines() if ln.endswith(r"\\")]
        assert rows, tex.name
        for row in rows:  # escaped \& is text, not a column separator
            assert row.replace(r"\&", "").count("&") == len(spec) - 1, (tex.name, row)
        unescaped = re.sub(r"\\[{}]", "", text)
        assert unescaped.count("{") == unescaped.count("}"), tex.name

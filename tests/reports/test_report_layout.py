"""The report's layout in a real browser (headless Chromium) at 1280x800 and 1920x1080.

The verdict table is inside the first viewport; the page never scrolls sideways (nor does any
table inside its own box, with every folded table opened); every figure decoded; no table
cell breaks a line inside a word (a break must follow a space, ``_``, ``-`` or ``/``).
Screenshots of the first viewport go to the report folder (``screenshots/``).

Reports checked: the synthetic run of conftest.py always; the real ``hbench demo`` run too
when ``HBENCH_DEMO_RUN`` names its directory (its report is written to ``RUN/report``).
Controls prove the checks can fail.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reports_cdp import Browser, find_chromium

from hbench.reports.build import build_report
from hbench.reports.html import CSS

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium; .ci/run installs it)",
)
VIEWPORTS = ((1280, 800), (1920, 1080))

FIRST_VIEW = """JSON.stringify((() => {
  const t = document.querySelector('#verdict table');
  const r = t ? t.getBoundingClientRect() : null;
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth, innerHeight,
          verdict: r && {top: r.top, bottom: r.bottom},
          images: Array.from(document.images).map(i => [i.complete, i.naturalWidth])};
})())"""

# Opens every <details>, then walks every character of every table cell: a line break is
# where a character's box starts lower than the previous one's.
WHOLE_PAGE = r"""JSON.stringify((() => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  // a table, its scroll box or a cell wider than the page, or content spilling out of them
  const overflowing = Array.from(document.querySelectorAll('div.tw, table, td, th'))
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                 || (!e.matches('table') && e.scrollWidth > e.clientWidth + 1))
    .map(e => (e.closest('section') || {}).id);
  const midword = [];
  let cells = 0, breaks = 0;
  for (const cell of document.querySelectorAll('td, th')) {
    cells++;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let prev = null, node;
    while ((node = walker.nextNode())) {
      for (let i = 0; i < node.data.length; i++) {
        const range = document.createRange();
        range.setStart(node, i); range.setEnd(node, i + 1);
        const rects = range.getClientRects();
        if (!rects.length) continue;
        const ch = node.data[i], top = rects[0].top;
        if (prev && top > prev.top + 2) {
          breaks++;
          if (!/\s/.test(ch) && !/[\s_\-\/]/.test(prev.ch)) midword.push(cell.textContent.slice(0, 80));
        }
        prev = {ch, top};
      }
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth,
          overflowing, midword, cells, breaks};
})())"""


def _reports(demo_run: Path, tmp: Path) -> list[tuple[str, Path]]:
    # its own report of the synthetic run (the shared demo_report must stay untouched)
    out = [("synthetic", build_report([demo_run], tmp / "report").parent)]
    demo = os.environ.get("HBENCH_DEMO_RUN")
    if demo:
        index = build_report([demo], Path(demo) / "report")
        out.append(("demo", index.parent))
    return out


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as b:
        yield b


def _viewport(browser: Browser, width: int, height: int) -> None:
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        browser.session,
    )


def test_verdict_first_no_overflow_images_load_no_midword_breaks(
    browser, demo_run: Path, tmp_path: Path
) -> None:
    for name, report in _reports(demo_run, tmp_path):
        shots = report / "screenshots"
        shots.mkdir(exist_ok=True)
        for width, height in VIEWPORTS:
            where = f"{name} report at {width}x{height}"
            _viewport(browser, width, height)
            browser.load((report / "index.html").as_uri())
            first = json.loads(browser.evaluate(FIRST_VIEW))
            assert first["innerWidth"] == width and first["innerHeight"] == height
            assert first["verdict"] is not None, where
            assert 0 <= first["verdict"]["top"] and first["verdict"]["bottom"] <= height, where
            assert first["scrollWidth"] <= first["innerWidth"], where
            assert first["images"] and all(c and w > 0 for c, w in first["images"]), where

            png = browser.screenshot({"x": 0, "y": 0, "width": width, "height": height})
            (shots / f"report-{width}x{height}.png").write_bytes(png)
            shot = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
            assert shot.shape == (height, width) and shot.std() > 10, where

            page = json.loads(browser.evaluate(WHOLE_PAGE))
            assert page["scrollWidth"] <= page["innerWidth"], where
            assert page["overflowing"] == [], where
            assert page["cells"] > 100 and page["midword"] == [], (where, page["midword"])


def test_controls_show_the_layout_checks_can_fail(browser, tmp_path: Path) -> None:
    # the report's old cell rule (overflow-wrap: anywhere) in a narrow cell, and a table
    # too wide for the window: both checks must report them
    page = tmp_path / "control.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><style>{CSS}</style></head><body>"
        '<section id="narrow"><div class="tw"><table><tr>'
        '<td style="max-width: 3rem; overflow-wrap: anywhere">background_change</td>'
        "</tr></table></div></section>"
        '<section id="wide"><table><tr><td style="white-space: nowrap">'
        + "0.123 " * 400
        + "</td></tr></table></section></body></html>"
    )
    _viewport(browser, 1280, 800)
    browser.load(page.as_uri())
    state = json.loads(browser.evaluate(WHOLE_PAGE))
    assert set(state["midword"]) == {"background_change"}  # broken more than once
    assert state["scrollWidth"] > state["innerWidth"] and "wide" in state["overflowing"]
    assert "narrow" not in state["overflowing"]  # broken mid-word, but it does fit

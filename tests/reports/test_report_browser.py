"""The HTML report in a real browser (headless Chromium, Debian package ``chromium``).

Checks that every embedded figure decodes, that the report draws pixels where its figures
are, and that dataset text such as ``<script>alert(1)</script>`` is shown as text and runs
nothing. Controls prove the checks can fail: the same payloads, unescaped in a page
without the report's CSP, do run in this browser (and are stopped by the CSP alone).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import PWN_PROMPT, QUOTE_INSTRUCTION, SCRIPT_PROMPT
from PIL import Image
from reports_cdp import Browser, find_chromium

from hbench.reports.html import CSP, CSS, _style_hash

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y chromium; .ci/run installs it)",
)

PROBE = """JSON.stringify({
  images: Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight,
                                                 i.currentSrc.slice(0, 21)]),
  scripts: document.getElementsByTagName('script').length,
  pwned: document.body.getAttribute('data-pwned'),
  text: document.body.innerText,
  rects: Array.from(document.querySelectorAll('figure img')).map(i => {
    const r = i.getBoundingClientRect();
    return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height};
  }),
})"""

PAYLOAD = SCRIPT_PROMPT + PWN_PROMPT


def _control_page(path: Path, with_csp: bool) -> Path:
    """A page that embeds the payloads *unescaped* (what escaping must prevent)."""
    css = f"<style>{CSS}</style>"
    meta = (
        f'<meta http-equiv="Content-Security-Policy" '
        f'content="{CSP.format(style_hash=_style_hash(CSS))}">'
        if with_csp
        else ""
    )
    path.write_text(f"<!DOCTYPE html><html><head>{meta}{css}</head><body>{PAYLOAD}</body></html>")
    return path


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as b:
        yield b


def test_report_figures_load_and_data_text_runs_nothing(browser, demo_report: Path) -> None:
    index = demo_report / "index.html"
    start = browser.load(index.as_uri())
    state = json.loads(browser.evaluate(PROBE))

    # every figure is an embedded PNG that decoded to its real size
    figures = sorted(p.name for p in (demo_report / "figures").glob("*.png"))
    assert len(state["images"]) == len(figures) >= 6
    for complete, width, height, src in state["images"]:
        assert complete and width > 100 and height > 100, state["images"]
        assert src == "data:image/png;base64"

    # the rendered page has figure pixels where the figures are (not blank, not broken)
    for rect in state["rects"][:2]:
        assert rect["width"] > 100 and rect["height"] > 100
        shot = np.asarray(Image.open(io.BytesIO(browser.screenshot(rect))).convert("RGB"))
        assert shot.std() > 20, "figure area is blank"
        assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 8

    # dataset text is shown as text and ran nothing
    assert SCRIPT_PROMPT in state["text"]
    assert PWN_PROMPT in state["text"]
    assert QUOTE_INSTRUCTION in state["text"]
    assert state["scripts"] == 0
    assert state["pwned"] is None
    assert browser.dialogs(start) == []


def test_controls_show_the_checks_can_fail(browser, tmp_path: Path) -> None:
    # unescaped and no CSP: this browser does run the payloads (so the checks above can fail)
    start = browser.load(_control_page(tmp_path / "unsafe.html", with_csp=False).as_uri())
    state = json.loads(browser.evaluate(PROBE))
    assert state["scripts"] == 1
    assert state["pwned"] == "1"
    assert [e["params"]["message"] for e in browser.dialogs(start)] == ["1"]

    # unescaped but with the report's CSP: the policy alone already stops both
    start = browser.load(_control_page(tmp_path / "csp.html", with_csp=True).as_uri())
    state = json.loads(browser.evaluate(PROBE))
    assert state["pwned"] is None
    assert browser.dialogs(start) == []

"""The self-contained HTML page: figures as data URIs, all text escaped, no scripts at all.

A Content-Security-Policy meta tag allows only images from ``data:`` URIs and the page's
one stylesheet (by its hash); scripts, including inline handlers, are refused by default.
"""

from __future__ import annotations

import base64
import hashlib
import html
from os import PathLike
from pathlib import Path

from PIL import Image

from .figures import RunDirs
from .model import FigureRef, Report, build
from .table import Table, to_html
from .tables import DEFINITIONS

CSS = """
body { font-family: system-ui, sans-serif; margin: 1rem auto; max-width: 84rem; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.4rem; margin: 0.2rem 0 0.4rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #ccc; margin: 1.2rem 0 0.4rem; }
h3 { font-size: 1rem; margin: 0.6rem 0 0.3rem; }
nav ul { display: flex; flex-wrap: wrap; gap: 0.1rem 1rem; list-style: none; padding: 0;
         margin: 0 0 0.4rem; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.3rem 0; }
div.tw { max-width: 100%; overflow-x: auto; }
th, td { padding: 0.2rem 0.5rem; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
thead th { border-bottom: 2px solid #444; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
td.l, th.l { text-align: left; } td.c, th.c { text-align: center; }
th, td { overflow-wrap: normal; word-break: normal; hyphens: manual; }
td { max-width: 28rem; }
#sec-verdict h2 { margin-top: 0.4rem; }
#verdict td:first-child { font-weight: 600; }
#sec-verdict p.note { margin: 0.1rem 0; }
details > summary { cursor: pointer; color: #1a4f8a; font-size: 0.85rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption, p.note { font-size: 0.85rem; color: #555; }
ul.absent li { color: #8a5300; }
""".strip()

# Tables that are the answer, never folded however long: the verdict, claims, before/after.
ALWAYS_OPEN = frozenset({"verdict", "claims", "deltas"})

CSP = (
    "default-src 'none'; img-src data:; style-src '{style_hash}'; base-uri 'none'; "
    "form-action 'none'"
)


def _style_hash(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _figure_html(fig: FigureRef, out_dir: Path) -> str:
    esc = html.escape
    payload = base64.b64encode(fig.png.read_bytes()).decode("ascii")
    with Image.open(fig.png) as image:
        width, height = image.size
        dpi = float((image.info.get("dpi") or (150, 150))[0]) or 150.0
    # figures are drawn at print size (7-8 pt); on screen show them 1.5x larger (144 CSS px
    # per inch: one CSS pixel per PNG pixel at the screen style's 150 dpi)
    css_w, css_h = round(width * 144 / dpi), round(height * 144 / dpi)
    png = fig.png.relative_to(out_dir).as_posix()
    pdf = fig.pdf.relative_to(out_dir).as_posix()
    return (
        f'<figure id="fig-{esc(fig.key)}">'
        f'<img src="data:image/png;base64,{payload}" alt="{esc(fig.title)}" '
        f'width="{css_w}" height="{css_h}">'
        f"<figcaption><b>{esc(fig.title)}.</b> {esc(fig.caption)} "
        f'(<a href="{esc(png)}">PNG</a>, <a href="{esc(pdf)}">PDF</a>)</figcaption></figure>'
    )


def render_html(report: Report) -> str:
    """The report as one HTML document (a string)."""
    esc = html.escape
    csp = CSP.format(style_hash=_style_hash(CSS))
    body = [f"<h1>{esc(report.title)}</h1>"]
    body.append("<nav><ul>")
    body += [f'<li><a href="#sec-{s.key}">{esc(s.title)}</a></li>' for s in report.sections]
    body.append("</ul></nav>")
    for section in report.sections:
        body.append(f'<section id="sec-{section.key}"><h2>{esc(section.title)}</h2>')
        for item in section.items:
            if isinstance(item, Table):
                body.append(to_html(item, collapse=item.key not in ALWAYS_OPEN))
            else:
                body.append(_figure_html(item, report.out_dir))
        if section.absent:
            body.append('<p class="note">Not shown (absent from the runs):</p><ul class="absent">')
            body += [f"<li>{esc(a)}</li>" for a in section.absent]
            body.append("</ul>")
        body.append("</section>")
    body.append('<section id="sec-definitions"><h2>Definitions</h2><ul>')
    body += [f"<li>{esc(d)}</li>" for d in DEFINITIONS]
    body.append("</ul></section>")
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(report.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
    )
    return head + "\n".join(body) + "\n</body>\n</html>\n"


def write_html(report: Report, name: str = "index.html") -> Path:
    """Write the HTML page into the report's output directory; returns its path."""
    path = report.out_dir / name
    path.write_text(render_html(report), encoding="utf-8")
    return path


def html_report(run_dirs: RunDirs, out_dir: str | PathLike[str]) -> Path:
    """Build the report for ``run_dirs`` and write ``index.html`` (figures embedded)."""
    return write_html(build(run_dirs, out_dir))

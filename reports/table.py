"""One table model, rendered to Markdown, HTML and LaTeX (booktabs).

Cells hold plain text (numbers already formatted); each renderer escapes for its format, so
dataset text (prompts, instructions, decoded outputs) can never become markup.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    """A titled table of plain-text cells.

    Attributes:
        key: file stem for the LaTeX file and HTML anchor (``[a-z0-9_]``).
        title: one-line heading (also the LaTeX caption's first sentence).
        columns: header cells.
        rows: body rows, each as long as ``columns``.
        align: ``"l"`` or ``"r"`` per column (default: first left, rest right).
        notes: sentences printed under the table (definitions, what is absent).
    """

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", self.key):
            raise ValueError(f"table key {self.key!r} must match [a-z0-9_]+")
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.key!r} row {i} has {len(row)} cells, expected {len(self.columns)}"
                )
        if not self.align:
            object.__setattr__(self, "align", ("l",) + ("r",) * (len(self.columns) - 1))
        if len(self.align) != len(self.columns) or set(self.align) - {"l", "r", "c"}:
            raise ValueError(f"table {self.key!r}: align must be one of l/r/c per column")


# ---- number formatting (shared by every table) ---------------------------------------------


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals, or an en dash when missing / not finite."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def fmt_signed(value: float | None, digits: int = 3) -> str:
    """Like :func:`fmt` with an explicit sign (deltas)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}"


def fmt_interval(
    value: float | None, low: float | None, high: float | None, digits: int = 3, signed=False
) -> str:
    """``value [low, high]``; the interval is left out when either end is missing."""
    show = fmt_signed if signed else fmt
    if value is None:
        return "–"
    if low is None or high is None:
        return show(value, digits)
    return f"{show(value, digits)} [{show(low, digits)}, {show(high, digits)}]"


def fmt_share(value: float | None) -> str:
    """A fraction as a percentage with one decimal."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.1f}%"


def fmt_seconds(value: float | None) -> str:
    """Seconds with a unit that keeps 3 significant digits (s or ms)."""
    if value is None or not math.isfinite(value):
        return "–"
    if abs(value) < 1.0:
        return f"{1000 * value:.3g} ms"
    return f"{value:.3g} s"


# ---- Markdown -------------------------------------------------------------------------------

# inline Markdown syntax; block syntax (#, -, 1.) only matters at a line start, see below
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_BLOCK_START = re.compile(r"^(\s*)([#>+-]|\d+[.)])")


def escape_markdown(text: str, block: bool = False) -> str:
    """Escape text for Markdown: inline punctuation, raw HTML (as entities), newlines.

    With ``block=True`` the text starts a line (title, paragraph), so a leading ``#``, ``-``,
    ``>`` or ``1.`` is escaped too.

    >>> escape_markdown("<script>a|b</script> *x*")
    '&lt;script&gt;a\\\\|b&lt;/script&gt; \\\\*x\\\\*'
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))
    if block:
        escaped = _MD_BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    return html.escape(escaped, quote=False)


def to_markdown(table: Table) -> str:
    """Render ``table`` as a GitHub-flavoured Markdown table with its title and notes."""
    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [f"### {escape_markdown(table.title, block=True)}", ""]
    lines.append("| " + " | ".join(escape_markdown(c) for c in table.columns) + " |")
    lines.append("| " + " | ".join(rule[a] for a in table.align) + " |")
    for row in table.rows:
        lines.append("| " + " | ".join(escape_markdown(c) for c in row) + " |")
    if not table.rows:
        lines.append("")
        lines.append("*(no rows)*")
    for note in table.notes:
        lines.append("")
        lines.append(escape_markdown(note, block=True))
    return "\n".join(lines) + "\n"


# ---- HTML -----------------------------------------------------------------------------------


# Tables longer than this fold into <details> (the verdict never does: it is the answer).
LONG_TABLE_ROWS = 15
# Width the page gives a table at a 1280 px window (CSS px), and an estimate of one
# character of the table font (0.85rem system-ui, digits are the widest common glyphs).
TABLE_BUDGET_PX, CHAR_PX, CELL_PAD_PX = 1100, 7.6, 17


def _cell_html(text: str, align: str) -> str:
    """Escape a cell and mark where it may wrap: after ``_`` (``<wbr>``, so group names such
    as ``background_change`` never break mid-word) and, in number cells, between a value and its interval
    (the interval itself is kept on one line with non-breaking spaces)."""
    out = html.escape(text)
    if align == "r":
        out = re.sub(r"\[[^\]]*\]", lambda m: m.group(0).replace(" ", "\u00a0"), out)
    return out.replace("_", "_<wbr>")


def _min_chars(text: str, align: str) -> int:
    """Length of the longest piece of ``text`` that cannot wrap (see :func:`_cell_html`)."""
    if align == "r":
        text = re.sub(r"\[[^\]]*\]", lambda m: m.group(0).replace(" ", "\u00a0"), text)
    pieces = re.split(r"[ \n]|(?<=_)", text)
    return max((len(p) for p in pieces), default=0)


def column_chunks(table: Table, budget_px: int = TABLE_BUDGET_PX) -> list[list[int]]:
    """Column indices of each HTML part of ``table``: all columns when its narrowest layout
    fits ``budget_px``, else the leading label columns repeated with as many of the other
    columns as fit (a wide per-type table becomes several stacked tables)."""
    n = len(table.columns)
    widths = [
        CELL_PAD_PX
        + CHAR_PX * max(_min_chars(r[i], table.align[i]) for r in (table.columns, *table.rows))
        for i in range(n)
    ]
    if sum(widths) <= budget_px:
        return [list(range(n))]
    lead = 0
    while lead < n - 1 and table.align[lead] == "l":
        lead += 1
    lead = max(1, lead)
    chunks: list[list[int]] = []
    current: list[int] = []
    used = sum(widths[:lead])
    for i in range(lead, n):
        if current and used + widths[i] > budget_px:
            chunks.append(list(range(lead)) + current)
            current, used = [], sum(widths[:lead])
        current.append(i)
        used += widths[i]
    chunks.append(list(range(lead)) + current)
    return chunks


def _table_part(table: Table, cols: list[int]) -> str:
    parts = ['<div class="tw"><table><thead><tr>']
    parts += [
        f'<th class="{table.align[i]}">{_cell_html(table.columns[i], "l")}</th>' for i in cols
    ]
    parts.append("</tr></thead><tbody>")
    for row in table.rows:
        cells = "".join(
            f'<td class="{table.align[i]}">{_cell_html(row[i], table.align[i])}</td>' for i in cols
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table></div>")
    return "\n".join(parts)


def to_html(table: Table, collapse: bool = True) -> str:
    """Render ``table`` as an HTML fragment; every cell is escaped.

    Tables too wide for the page are split into stacked parts (label columns repeated);
    with ``collapse``, tables of more than :data:`LONG_TABLE_ROWS` rows fold into
    ``<details>``.
    """
    esc = html.escape
    parts = [f'<section class="table" id="{table.key}">', f"<h3>{esc(table.title)}</h3>"]
    chunks = column_chunks(table)
    body = [_table_part(table, cols) for cols in chunks]
    if len(chunks) > 1:
        body.insert(0, f'<p class="note">Split into {len(chunks)} parts to fit the page.</p>')
    if collapse and len(table.rows) > LONG_TABLE_ROWS:
        parts.append(f"<details><summary>{len(table.rows)} rows (click to show)</summary>")
        parts += body
        parts.append("</details>")
    else:
        parts += body
    if not table.rows:
        parts.append('<p class="note">(no rows)</p>')
    parts += [f'<p class="note">{esc(n)}</p>' for n in table.notes]
    parts.append("</section>")
    return "\n".join(parts)


# ---- LaTeX ----------------------------------------------------------------------------------

_LATEX_CHARS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    # symbols our own cells use; pdflatex has no glyph for the Unicode characters
    "–": "--",
    "−": "$-$",
    "×": r"$\times$",
    "±": r"$\pm$",
    "τ": r"$\tau$",
    "Δ": r"$\Delta$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "→": r"$\rightarrow$",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in sorted(_LATEX_CHARS, key=len, reverse=True)))


def escape_latex(text: str) -> str:
    """Escape text for LaTeX (special characters, our few Unicode symbols, newlines)."""
    text = text.replace("\r", " ").replace("\n", " ")
    return _LATEX_RE.sub(lambda m: _LATEX_CHARS[m.group(0)], text)


def to_latex(table: Table) -> str:
    """Render ``table`` as a booktabs ``table`` float (needs ``\\usepackage{booktabs}``)."""
    head = " & ".join(rf"\textbf{{{escape_latex(c)}}}" for c in table.columns)
    lines = [
        "% generated by hbench report; needs \\usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{escape_latex(table.title)}}}",
        rf"\label{{tab:{table.key}}}",
        rf"\begin{{tabular}}{{{''.join(table.align)}}}",
        r"\toprule",
        head + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(escape_latex(c) for c in row) + r" \\" for row in table.rows]
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    if table.notes:
        notes = " ".join(escape_latex(n) for n in table.notes)
        lines.append(rf"\par\smallskip\footnotesize {notes}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


# ---- plain text -----------------------------------------------------------------------------


def to_text(table: Table) -> str:
    """Render ``table`` as aligned plain text (for terminals); newlines in cells become spaces."""
    cells = [list(table.columns)] + [list(r) for r in table.rows]
    cells = [[c.replace("\r", " ").replace("\n", " ") for c in row] for row in cells]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]

    def line(row: list[str]) -> str:
        parts = [
            c.ljust(w) if a == "l" else c.rjust(w)
            for c, w, a in zip(row, widths, table.align, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [table.title, line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells[1:]]
    out += list(table.notes)
    return "\n".join(out) + "\n"

"""Gate verdicts as JUnit XML and as a GitHub-style step-summary Markdown table (the face's
printing of :mod:`hbench.harness.gate`'s results)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hbench.harness.gate import ClaimResult


def write_junit(results: list[ClaimResult], path: str | Path, source: str) -> Path:
    """One ``<testcase>`` per claim: a failing claim is a failure, an unusable one an error."""
    suite = ET.Element(
        "testsuite",
        name=f"hbench gate: {source}",
        tests=str(len(results)),
        failures=str(sum(r.status == "fail" for r in results)),
        skipped=str(sum(r.status == "inconclusive" for r in results)),
        errors=str(sum(r.status == "error" for r in results)),
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"hbench.gate.{r.claim.suite}",
            name=f"{r.claim.label} {r.claim.op} {r.claim.value:g}",
            file=r.claim.source,
            line=str(r.claim.line),
        )
        if r.status == "inconclusive":
            ET.SubElement(case, "skipped", message=r.line()).text = r.line()
        elif r.status != "pass":
            tag = "failure" if r.status == "fail" else "error"
            ET.SubElement(case, tag, message=r.line()).text = r.line()
        ET.SubElement(case, "system-out").text = r.line()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    root = ET.Element("testsuites", name="hbench gate")
    root.append(suite)
    ET.indent(root)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return out


def _cell(text: str) -> str:
    # Markdown table cells: escape pipes and HTML-significant characters of claim text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def summary_markdown(results: list[ClaimResult], source: str, run: str) -> str:
    """Markdown: a headline verdict and one table row per claim."""
    passed = sum(r.status == "pass" for r in results)
    verdict = "passed" if passed == len(results) else "FAILED"
    lines = [
        f"### hbench gate {verdict}: {passed}/{len(results)} claims hold",
        "",
        f"Claims `{_cell(source)}` on run `{_cell(str(run))}`.",
        "",
        "| | claim | required | measured | estimate | interval | n | where |",
        "|---|---|---|---|---|---|---|---|",
    ]
    icons = {"pass": "✅", "fail": "❌", "error": "⚠️", "inconclusive": "❔"}
    for r in results:
        c, m = r.claim, r.measurement
        required = f"{c.op} {c.value:g}"
        if m is None:
            row = [icons[r.status], c.label, required, _cell(r.message), "", "", "", c.location]
        else:
            measured = m.measured_text()
            if r.message:
                measured += f" ({r.message})"
            interval = f"{m.interval} [{m.low:.4g}, {m.high:.4g}]" if m.low is not None else ""
            row = [icons[r.status], c.label, required, measured, f"{m.estimate:.4g}", interval,
                   str(m.n), c.location]  # fmt: skip
        lines.append("| " + " | ".join(_cell(x) for x in row) + " |")
    return "\n".join(lines) + "\n"


def write_summary(results: list[ClaimResult], path: str | Path, source: str, run: str) -> Path:
    """Append the Markdown summary to ``path`` (GitHub's step summary file appends too)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as fh:
        fh.write(summary_markdown(results, source, run) + "\n")
    return out

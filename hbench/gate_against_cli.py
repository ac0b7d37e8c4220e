"""``hbench gate NEW --against OLD``: print, write JUnit / Markdown, return the exit status.

The comparison itself is :mod:`hbench.harness.gate_against`.

Exit status: 0 nothing regressed, 1 a regression, 2 the runs cannot be used.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from hbench.harness.gate_against import Finding, compare_runs, parse_tolerance
from hbench.harness.messages import print_error
from hbench.harness.runs import load_run
from hbench.harness.store import RunStoreError


def write_junit(findings: list[Finding], path: str | Path, name: str) -> Path:
    """One ``<testcase>`` per compared figure; a regression is a failure."""
    suite = ET.Element("testsuite", name=name, tests=str(len(findings)),
                       failures=str(sum(f.status == "fail" for f in findings)), errors="0")  # fmt: skip
    for f in findings:
        case = ET.SubElement(suite, "testcase", classname=f"hbench.against.{f.suite}", name=f.label)
        if f.status == "fail":
            ET.SubElement(case, "failure", message=f.line()).text = f.line()
        ET.SubElement(case, "system-out").text = f.line()
    root = ET.Element("testsuites", name="hbench gate --against")
    root.append(suite)
    ET.indent(root)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
    return out


def _cell(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def summary_markdown(findings: list[Finding], new: str, old: str) -> str:
    """A headline and one row per regression (all rows when nothing regressed is too long)."""
    bad = [f for f in findings if f.status == "fail"]
    verdict = f"{len(bad)} regression(s)" if bad else "no regression"
    lines = [f"### hbench gate --against: {verdict} in {len(findings)} figures", "",
             f"Run `{_cell(new)}` against `{_cell(old)}`.", ""]  # fmt: skip
    if bad:
        lines += ["| figure | old | new | estimate [95% CI] | n |", "|---|---|---|---|---|"]
        for f in bad:
            ci = "" if f.low is None else f" [{f.low:.4g}, {f.high:.4g}]"
            row = [
                f.label,
                f"{f.old:.4g}",
                f"{f.new:.4g}",
                f"{f.rule}: {f.estimate:.4g}{ci}",
                str(f.n),
            ]
            lines.append("| " + " | ".join(_cell(x) for x in row) + " |")
    return "\n".join(lines) + "\n"


def run_against(new: str, old: str, tolerance: str | None, junit: str | None,
                summary: str | None) -> int:  # fmt: skip
    """The ``--against`` mode of ``hbench gate``; returns the exit status."""
    try:
        tol = parse_tolerance(tolerance)
        findings = compare_runs(load_run(new), load_run(old), tol)
    except (RunStoreError, ValueError) as err:
        print_error(err)
        return 2
    if not findings:
        print_error(f"{new} and {old} share no paired samples")
        return 2
    for f in findings:
        if f.status == "fail":
            print(f.line())
    bad = sum(f.status == "fail" for f in findings)
    print(f"{bad} regression(s) in {len(findings)} figures ({new} against {old}; "
          f"tolerance {', '.join(f'{k}={v:g}' for k, v in tol.items())})")  # fmt: skip
    if junit:
        write_junit(findings, junit, f"hbench gate {new} --against {old}")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as fh:
            fh.write(summary_markdown(findings, new, old) + "\n")
    return 1 if bad else 0

"""Bad inputs through the real CLI: exit status and one line naming file and key, never a traceback.

Every case is a row of ``CASES``: the files it writes (``{tmp}`` is the case's folder,
``{run}`` a copy of a finished tiny run when ``run`` is set), an optional ``prepare``
step on that copy, the ``hbench`` arguments, the expected exit status and a regular
expression the single stderr line must match. Most rows run ``main()`` in-process (one
interpreter, fast); rows with ``subprocess: True`` run ``python -m hbench`` for real.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from oracle_config import oracle_config
from PIL import Image

from hbench.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASE = oracle_config()
CLAIMS = """\
claims:
  - {suite: geneval, variant: oracle, check: mean, metric: correct, op: ">=", value: 0.5}
"""
GOOD_META = json.dumps(
    {
        "tag": "single_object",
        "include": [{"class": "circle", "count": 1}],
        "prompt": "a photo of a circle",
    }
)


def _cfg(
    suites: str, head: str = "system: {family: shapes, reference: oracle, variants: [oracle]}"
) -> str:
    return f"seed: 0\nthreads: 1\n{head}\nsuites:\n{suites}\n"


# ------------------------------------------------------------------ prepare steps (on {run})


def _records(run: Path) -> list[str]:
    return (run / "records.jsonl").read_text().splitlines()


def _write_records(run: Path, lines: list[str]) -> None:
    (run / "records.jsonl").write_text("".join(x + "\n" for x in lines))


def _unfinish(run: Path) -> None:
    man = json.loads((run / "manifest.json").read_text())
    man["finished"] = None
    (run / "manifest.json").write_text(json.dumps(man))
    _write_records(run, _records(run)[:2])


def _duplicate(run: Path) -> None:
    _write_records(run, _records(run) + _records(run))


def _drop_key(run: Path) -> None:
    lines = _records(run)
    rec = json.loads(lines[1])
    del rec["key"]
    _write_records(run, [lines[0], json.dumps(rec), *lines[2:]])


def _corrupt_middle(run: Path) -> None:
    lines = _records(run)
    _write_records(run, [lines[0], lines[1][:30], *lines[2:]])


def _torn_metrics(run: Path) -> None:
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write('{"key": "geneval/000')


def _escape_image(run: Path) -> None:
    lines = _records(run)
    rec = json.loads(lines[0])
    rec["output"]["image"] = "../../outside.png"
    _write_records(run, [json.dumps(rec), *lines[1:]])
    (run / "metrics.jsonl").unlink()


def _live_lock(run: Path) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": "now", "command": "test"}
    (run / ".lock").write_text(json.dumps(info))


def _stale_lock(run: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that is certainly dead now
    info = {"pid": proc.pid, "host": socket.gethostname(), "started": "then", "command": "test"}
    (run / ".lock").write_text(json.dumps(info))


def _png16(run: Path) -> None:
    layout = run / "artifacts" / "geneval" / "oracle" / "layout"
    for png in sorted(layout.glob("*/samples/*.png")):
        arr = np.asarray(Image.open(png).convert("L")).astype(np.uint16) * 257
        Image.fromarray(arr).save(png)  # 16-bit grey, same picture


def _truncate_png(run: Path) -> None:
    png = sorted((run / "artifacts" / "geneval" / "oracle" / "layout").glob("*/samples/*.png"))[0]
    data = png.read_bytes()
    png.write_bytes(data[: len(data) // 2])


def _latin1_metadata(run: Path) -> None:
    meta = run / "artifacts" / "geneval" / "oracle" / "layout" / "00000" / "metadata.jsonl"
    meta.write_bytes(meta.read_bytes().replace(b"a photo", b"a ph\xf6to"))


def _all_fail_mme(tmp: Path) -> None:
    task = tmp / "mme" / "position"
    task.mkdir(parents=True)
    for i in range(3):
        (task / f"{i:04d}.png").write_bytes(b"\x89PNG broken")
        (task / f"{i:04d}.txt").write_text("is it left ?\tYes\n")


Prepare = Callable[[Path], None]
# fmt: off
CASES: list[dict[str, Any]] = [
    # ---- config syntax and structure
    dict(id="yaml-syntax", files={"c.yaml": "system: [unclosed\n"}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml:\d+: not valid YAML", subprocess=True),
    dict(id="not-a-mapping", files={"c.yaml": "- a\n- b\n"}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml.*a config must be a mapping"),
    dict(id="unknown-top-key", files={"c.yaml": BASE + "colour: red\n"}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml:\d+: colour: unknown key"),
    dict(id="duplicate-key", files={"c.yaml": BASE + "seed: 1\n"}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml:\d+: duplicate key 'seed'"),
    dict(id="missing-config", files={}, argv=["run", "{tmp}/nope.yaml"], exit=2, err=r"nope\.yaml: cannot read config: No such file"),
    dict(id="non-utf8-config", files={"c.yaml": b"seed: 0\n# caf\xe9\n"}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml: config is not UTF-8 text \(byte offset 13: 0xe9\)", subprocess=True),
    dict(id="alias-bomb", files={"c.yaml": BASE + "x: &a [1, 1]\ny: &b [*a, *a]\nz: [*b, *b]\n"}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml:\d+: YAML anchors and aliases .* are not allowed", subprocess=True),
    dict(id="huge-int", files={"c.yaml": BASE.replace("prompts_per_tag: 1", "prompts_per_tag: 1000000000000000000000")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.geneval\.prompts_per_tag: integer 1000000000000000000000 is out of range", subprocess=True),
    dict(id="float-string-count", files={"c.yaml": BASE.replace("prompts_per_tag: 1", "prompts_per_tag: 1e30")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"prompts_per_tag: expected an integer, got '1e30'"),
    dict(id="float-count", files={"c.yaml": BASE.replace("prompts_per_tag: 1", "prompts_per_tag: 1.0e+30")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"prompts_per_tag: expected an integer"),
    dict(id="too-many-prompts", files={"c.yaml": BASE.replace("prompts_per_tag: 1", "prompts_per_tag: 1000000")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml:\d+: suites\.geneval: prompts_per_tag must be <= 1000, got 1000000"),
    dict(id="gedit-too-many", files={"c.yaml": _cfg("  gedit: {samples_per_type: 5000000}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.gedit: gedit: samples_per_type must be <= 10000"),
    dict(id="zero-count", files={"c.yaml": BASE.replace("prompts_per_tag: 1", "prompts_per_tag: 0")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.geneval: prompts_per_tag must be >= 1"),
    dict(id="wrong-type-seed", files={"c.yaml": BASE.replace("seed: 0", "seed: abc")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml:1: seed: expected an integer"),
    dict(id="bad-device", files={"c.yaml": BASE + "device: gpu\n"}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"device: expected cpu, cuda or cuda:N"),
    dict(id="unknown-family", files={"c.yaml": BASE.replace("family: shapes", "family: bagle")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"system\.family: Unknown system family 'bagle'"),
    dict(id="unknown-suite", files={"c.yaml": _cfg("  genevla: {}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.genevla: .*genevla"),
    dict(id="unknown-suite-param", files={"c.yaml": BASE.replace("samples_per_prompt: 1", "samples_per_promt: 1")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.geneval\.samples_per_promt: unknown key"),
    dict(id="reference-not-variant", files={"c.yaml": BASE.replace("reference: oracle", "reference: baseline")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"system\.reference: reference variant 'baseline' is not among"),
    # ---- names: strings, no paths
    dict(id="variant-yes", files={"c.yaml": BASE.replace("variants: [oracle]", "variants: [oracle, yes]")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"system\.variants\.1: variant names must be strings, got True \(YAML reads", subprocess=True),
    dict(id="variant-on-key", files={"c.yaml": BASE.replace("variants: [oracle]", "variants: {oracle: {}, on: {}}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"system\.variants: key 'on' reads as True: names must be strings"),
    dict(id="suite-variants-no", files={"c.yaml": BASE.replace("samples_per_prompt: 1}", "samples_per_prompt: 1, variants: [no]}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.geneval\.variants\.0: variant names must be strings, got False"),
    dict(id="suite-name-dotdot", files={"c.yaml": _cfg('  "../../../X": {suite: geneval, prompts_per_tag: 1, samples_per_prompt: 1}')}, argv=["run", "{tmp}/c.yaml", "--out", "{tmp}/out"], exit=2, err=r"suites\.\.\./\.\./\.\./X: suite name '\.\./\.\./\.\./X' is not allowed", subprocess=True),
    dict(id="suite-name-absolute", files={"c.yaml": _cfg('  "/tmp/X": {suite: geneval}')}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suite name '/tmp/X' is not allowed"),
    dict(id="suite-name-slash", files={"c.yaml": _cfg('  "a/b": {suite: geneval}')}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suite name 'a/b' is not allowed"),
    dict(id="suite-name-bool", files={"c.yaml": _cfg("  yes: {suite: geneval}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites: key 'yes' reads as True: names must be strings"),
    dict(id="metric-name-dotdot", files={"c.yaml": BASE.replace("shapes-palette: {}", '"..": {metric: shapes-palette}')}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"metric name '\.\.' is not allowed"),
    dict(id="allow-errors-string", files={"c.yaml": BASE.replace("samples_per_prompt: 1}", "samples_per_prompt: 1, allow_errors: maybe}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.geneval\.allow_errors: expected true or false"),
    # ---- suite inputs
    dict(id="gedit-negative-count", files={"c.yaml": _cfg("  gedit: {samples_per_type: -2}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"c\.yaml: suites\.gedit: gedit: samples_per_type must be >= 1", subprocess=True),
    dict(id="gedit-unknown-source", files={"c.yaml": _cfg("  gedit: {source: /nonexistent/gedit}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.gedit: gedit: source '/nonexistent/gedit' is neither"),
    dict(id="mme-unknown-path", files={"c.yaml": _cfg("  mme: {suite: understanding, benchmark: mme, path: /nonexistent/mme}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.mme: MME data not found: /nonexistent/mme"),
    dict(id="geneval-metadata-missing", files={"c.yaml": _cfg("  geneval: {prompts: '{tmp}/meta.jsonl'}")}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"suites\.geneval: .*meta\.jsonl: cannot read GenEval metadata"),
    dict(id="geneval-metadata-bad-line", files={"c.yaml": _cfg("  geneval: {prompts: '{tmp}/meta.jsonl'}"), "meta.jsonl": GOOD_META + "\n{oops\n"}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"invalid GenEval metadata: .*meta\.jsonl:2: not valid JSON", subprocess=True),
    dict(id="geneval-metadata-non-utf8", files={"c.yaml": _cfg("  geneval: {prompts: '{tmp}/meta.jsonl'}"), "meta.jsonl": b'{"prompt": "caf\xe9"}\n'}, argv=["run", "{tmp}/c.yaml"], exit=2, err=r"meta\.jsonl: GenEval metadata is not UTF-8 text \(byte offset 15: 0xe9\)"),
    dict(id="geneval-check-non-utf8", files={"meta.jsonl": b"\xff\xfe{}\n"}, argv=["geneval", "check", "{tmp}/meta.jsonl"], exit=2, err=r"meta\.jsonl: GenEval metadata is not UTF-8 text \(byte offset 0: 0xff\)"),
    dict(id="understanding-all-failed", prepare_tmp=_all_fail_mme, files={"c.yaml": _cfg("  mme: {suite: understanding, benchmark: mme, path: '{tmp}/mme'}")}, argv=["run", "{tmp}/c.yaml", "--out", "{tmp}/out", "--quiet"], exit=1, err=r"suite 'mme' variant 'oracle': all 3 samples failed \(first, 00000: ValueError: .*0000\.txt line 1: image does not decode", stdout=True, subprocess=True),
    dict(id="understanding-all-failed-allowed", prepare_tmp=_all_fail_mme, files={"c.yaml": _cfg("  mme: {suite: understanding, benchmark: mme, path: '{tmp}/mme', allow_errors: true}")}, argv=["run", "{tmp}/c.yaml", "--out", "{tmp}/out", "--quiet"], exit=0, err=None),
    # ---- run store
    dict(id="occupied-without-resume", run=True, files={"c.yaml": BASE}, argv=["run", "{tmp}/c.yaml", "--out", "{run}"], exit=2, err=r"already holds records; pass --resume"),
    dict(id="resume-changed-config", run=True, files={"c.yaml": BASE.replace("prompts_per_tag: 1", "prompts_per_tag: 2").replace("seed: 0", "seed: 3")}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--quiet"], exit=2, err=r"--resume with a changed config: seed \(0 -> 3\), suites\.geneval\.prompts_per_tag \(1 -> 2\); .*--force-config", subprocess=True),
    dict(id="resume-force-config", run=True, files={"c.yaml": BASE.replace("prompts_per_tag: 1", "prompts_per_tag: 2")}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--force-config", "--quiet"], exit=0, err=None, check=lambda run: json.loads((run / "manifest.json").read_text())["config_forced"][0]["keys"] == ["suites.geneval.prompts_per_tag"]),
    dict(id="force-config-without-resume", files={"c.yaml": BASE}, argv=["run", "{tmp}/c.yaml", "--out", "{tmp}/o", "--force-config"], exit=2, err=r"--force-config only applies with --resume"),
    dict(id="resume-other-threads-is-fine", run=True, files={"c.yaml": BASE.replace("threads: 1", "threads: 2")}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--quiet"], exit=0, err=None),
    dict(id="locked-by-live-process", run=True, prepare=_live_lock, files={"c.yaml": BASE}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--quiet"], exit=2, err=r"run directory .* is in use by pid \d+ on .*; wait for it"),
    dict(id="stale-lock-taken-over", run=True, prepare=_stale_lock, files={"c.yaml": BASE}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--quiet"], exit=0, err=None, check=lambda run: not (run / ".lock").exists()),
    dict(id="record-without-key", run=True, prepare=_drop_key, files={"c.yaml": BASE}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--quiet"], exit=2, err=r"records\.jsonl:2: field 'key' missing", subprocess=True),
    dict(id="corrupt-middle-record", run=True, prepare=_corrupt_middle, files={"c.yaml": BASE}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--quiet"], exit=2, err=r"records\.jsonl:2: corrupt record: .*hbench store repair"),
    dict(id="torn-metrics-then-resume", run=True, prepare=_torn_metrics, files={"c.yaml": BASE}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--quiet"], exit=0, err=None, check=lambda run: all(json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines())),
    dict(id="record-image-outside-run", run=True, prepare=_escape_image, files={"c.yaml": BASE}, argv=["run", "{tmp}/c.yaml", "--out", "{run}", "--resume", "--quiet"], exit=0, err=None, check=lambda run: "points outside the run directory" in (run / "metrics.jsonl").read_text()),
    dict(id="out-under-a-file", files={"c.yaml": BASE, "afile": "x"}, argv=["run", "{tmp}/c.yaml", "--out", "{tmp}/afile/run", "--quiet"], exit=2, err=r"afile.*Not a directory"),
    # ---- store check / repair
    dict(id="store-check-duplicates", run=True, prepare=_duplicate, files={}, argv=["store", "check", "{run}"], exit=1, err=None, stdout_re=r"records\.jsonl:\d+: duplicate of records\.jsonl:1"),
    dict(id="store-repair-duplicates", run=True, prepare=_duplicate, files={}, argv=["store", "repair", "{run}"], exit=0, err=None, check=lambda run: len(_records(run)) == 6 and list((run / "repair").iterdir())),
    dict(id="store-check-clean", run=True, files={}, argv=["store", "check", "{run}"], exit=0, err=None, stdout_re=r": clean$"),
    dict(id="store-check-not-a-dir", files={}, argv=["store", "check", "{tmp}/nothing"], exit=2, err=r"nothing: not a directory", subprocess=True),
    # ---- gate
    dict(id="gate-unfinished", run=True, prepare=_unfinish, files={"claims.yaml": CLAIMS}, argv=["gate", "{run}", "--claims", "{tmp}/claims.yaml"], exit=3, err=r"unfinished \(manifest finished: null\), 2 records; missing samples: geneval 4/6 \(first geneval/.*--allow-partial", subprocess=True),
    dict(id="gate-unfinished-allowed", run=True, prepare=_unfinish, files={"claims.yaml": CLAIMS}, argv=["gate", "{run}", "--claims", "{tmp}/claims.yaml", "--allow-partial"], exit=0, err=r"warning: .*unfinished.*gated anyway"),
    dict(id="gate-damaged", run=True, prepare=_duplicate, files={"claims.yaml": CLAIMS}, argv=["gate", "{run}", "--claims", "{tmp}/claims.yaml"], exit=2, err=r"damaged store \(6 problem\(s\), first records\.jsonl:7: duplicate of .*hbench store repair"),
    dict(id="gate-finished", run=True, files={"claims.yaml": CLAIMS}, argv=["gate", "{run}", "--claims", "{tmp}/claims.yaml"], exit=0, err=None),
    # ---- geneval score: image files
    dict(id="geneval-score-16bit", run=True, prepare=_png16, files={}, argv=["geneval", "score", "{run}/artifacts/geneval/oracle/layout"], exit=0, err=None, stdout_re=r"Total images: 6"),
    dict(id="geneval-score-truncated", run=True, prepare=_truncate_png, files={}, argv=["geneval", "score", "{run}/artifacts/geneval/oracle/layout"], exit=2, err=r"samples/0000\.png: cannot decode image: .*truncated", subprocess=True),
    dict(id="geneval-score-non-utf8-metadata", run=True, prepare=_latin1_metadata, files={}, argv=["geneval", "score", "{run}/artifacts/geneval/oracle/layout"], exit=2, err=r"00000/metadata\.jsonl: prompt metadata is not UTF-8 text \(byte offset \d+: 0xf6\)"),
    dict(id="report-not-a-run", files={}, argv=["report", "{tmp}"], exit=2, err=r": not a run directory \(no manifest\.json\)"),
]
# fmt: on


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("base")
    (tmp / "c.yaml").write_text(BASE)
    assert main(["run", str(tmp / "c.yaml"), "--out", str(tmp / "run"), "--quiet"]) == 0
    return tmp / "run"


def _fill(text: str, tmp: Path, run: Path) -> str:
    return text.replace("{tmp}", str(tmp)).replace("{run}", str(run))


def test_corpus_is_large_and_covers_every_kind():
    assert len(CASES) >= 40
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert sum(bool(c.get("subprocess")) for c in CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case, tmp_path, finished_run, capsys):
    run = tmp_path / "run"
    if case.get("run"):
        shutil.copytree(finished_run, run)
        if case.get("prepare"):
            case["prepare"](run)
    if case.get("prepare_tmp"):
        case["prepare_tmp"](tmp_path)
    for name, content in case["files"].items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(_fill(content, tmp_path, run))
    argv = [_fill(a, tmp_path, run) for a in case["argv"]]
    if case.get("subprocess"):
        proc = subprocess.run([sys.executable, "-m", "hbench", *argv], capture_output=True,
                              text=True, cwd=ROOT, timeout=300)  # fmt: skip
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    else:
        code = main(argv)
        captured = capsys.readouterr()
        out, err = captured.out, captured.err
    assert "Traceback" not in err and "Traceback" not in out, err
    assert code == case["exit"], f"exit {code}\nstdout: {out[-1500:]}\nstderr: {err[-1500:]}"
    if case["err"] is not None:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert re.search(case["err"], lines[0]), lines[0]
    elif code == 0:
        assert "error" not in err, err
    if case.get("stdout_re"):
        assert re.search(case["stdout_re"], out, re.M), out
    if case.get("check"):
        assert case["check"](run)

"""A small but realistic synthetic run store (docs/run-store.md) for the report tests.

Suites geneval / gedit / understanding / latency with variants baseline, nfe6, nfe1, spec;
tiny PNG images drawn with PIL; scores.json computed from the records with
hbench.harness.statistics the way the runner does. Dataset text includes a
``<script>alert(1)</script>`` prompt and an instruction with ``"`` and ``&``.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hbench.harness import comparisons as cmp

SCRIPT_PROMPT = "<script>alert(1)</script>"
PWN_PROMPT = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
QUOTE_INSTRUCTION = 'make the "red" circle blue & keep the <b>square</b>'
TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
TASK_TYPES = ("background_change", "color_alter", "subject-add", "subject-remove")
NFE = {"baseline": 100, "nfe6": 6, "nfe1": 1}
MERGED = {"baseline": 50, "nfe6": 6, "nfe1": 1}
EDIT_NFE = {"baseline": 132, "nfe6": 6, "nfe1": 1}
COLOURS = ((220, 40, 40), (40, 90, 220), (40, 170, 60), (230, 200, 40))


def _image(path: Path, rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (32, 32), (200, 200, 200))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 3)):
        x, y, s = rng.randint(0, 20), rng.randint(0, 20), rng.randint(6, 12)
        box = (x, y, x + s, y + s)
        fill = rng.choice(COLOURS)
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    img.save(path, format="PNG")


def _profile(seconds: float, nfe: int | None, merged: int | None, rng: random.Random) -> dict:
    seconds *= rng.uniform(0.9, 1.1)
    overhead = seconds * rng.uniform(0.02, 0.06)
    prof: dict[str, Any] = {
        "seconds": seconds,
        "model_seconds": seconds - overhead,
        "overhead_seconds": overhead,
        "peak_memory_bytes": 50_000_000 + rng.randint(0, 1_000_000),
        "memory_kind": "rss",
        "modules": {},
    }
    if nfe is not None:
        prof.update(nfe=nfe, merged_calls=merged)
    return prof


def _record(suite: str, sample: str, seed: int, variant: str, **fields: Any) -> dict:
    rec = {"key": f"{suite}/{sample}/{seed}/{variant}", "suite": suite, "sample": sample,
           "seed": seed, "variant": variant, "output": {}, "metrics": {}, "details": {},
           "profile": {}, "error": None, "finished_at": "2026-11-21T22:01:02+00:00"}  # fmt: skip
    rec.update(fields)
    return rec


def _geneval(run: Path, rng: random.Random) -> list[dict]:
    out = []
    for i in range(12):
        sample, seed, tag = f"{i:05d}", 1000 + i, TAGS[i % len(TAGS)]
        prompt = {0: SCRIPT_PROMPT, 1: PWN_PROMPT}.get(i, f"a photo of {i % 3 + 1} red circles")
        for variant, seconds, p_ok in (("baseline", 0.40, 0.8), ("nfe6", 0.025, 0.75),
                                       ("nfe1", 0.005, 0.6)):  # fmt: skip
            rel = f"images/geneval/{variant}/{sample}.png"
            _image(run / rel, rng)
            correct = 1.0 if rng.random() < p_ok else 0.0
            out.append(_record(
                "geneval", sample, seed, variant,
                output={"image": rel, "prompt": prompt},
                metrics={"correct": correct},
                details={"tag": tag, "reason": "ok" if correct else "expected 2 circle, found 1"},
                profile=_profile(seconds, NFE[variant], MERGED[variant], rng),
            ))  # fmt: skip
    return out


def _gedit(run: Path, rng: random.Random) -> list[dict]:
    out = []
    for i in range(8):
        sample, seed, task = f"{i:05d}", 2000 + i, TASK_TYPES[i % len(TASK_TYPES)]
        instruction = QUOTE_INSTRUCTION if i == 0 else f"change the background to tone {i}"
        src = f"images/gedit/source/{sample}.png"
        _image(run / src, rng)
        for variant, seconds, mu in (("baseline", 0.55, 7.0), ("nfe6", 0.03, 6.8),
                                     ("nfe1", 0.006, 6.0)):  # fmt: skip
            rel = f"images/gedit/{variant}/{sample}.png"
            _image(run / rel, rng)
            sc = float(min(10, max(0, round(rng.gauss(mu, 1.5)))))
            pq = float(min(10, max(0, round(rng.gauss(mu + 0.5, 1.0)))))
            out.append(_record(
                "gedit", sample, seed, variant,
                # as tasks/gedit writes them: task type and language in the output
                output={"image": rel, "source_image": src, "instruction": instruction,
                        "task_type": task, "language": "en", "key": sample, "intersection": True},
                metrics={"SC": sc, "PQ": pq, "O": math.sqrt(sc * pq)},
                details={"judge": "shapes", "reason": "judged"},
                profile=_profile(seconds, EDIT_NFE[variant], MERGED[variant], rng),
            ))  # fmt: skip
    return out


def _understanding(rng: random.Random) -> list[dict]:
    out = []
    for i in range(8):
        sample, seed = f"{i:05d}", 3000 + i
        ids = [rng.randint(5, 500) for _ in range(12)]
        text = " ".join(f"w{t}" for t in ids)
        base = _record("understanding", sample, seed, "baseline",
                       output={"text": text, "token_ids": ids},
                       metrics={"correct": float(i % 4 != 0)}, details={"question": "how many?"},
                       profile=_profile(0.20, None, None, rng))  # fmt: skip
        spec_ids = list(ids)
        if i == 5:  # one divergence at token 7
            spec_ids[7] = ids[7] + 1
        tau = round(rng.uniform(2.2, 3.4), 3)
        per_pos = [round(rng.uniform(0.75, 0.95) ** (k + 1), 4) for k in range(4)]
        stats = {"acceptance_length": tau, "accept_per_position": per_pos}
        spec_out = {"text": " ".join(f"w{t}" for t in spec_ids), "token_ids": spec_ids}
        prof = _profile(0.08, None, None, rng)
        if i % 2:
            spec_out.update(stats)
        else:  # some systems report the statistics as profile stages instead
            prof["stages"] = {"prefill_s": 0.01, "decode_s": 0.06, **stats}
        spec = _record("understanding", sample, seed, "spec", output=spec_out,
                       metrics={"correct": float(i % 4 != 0 and i != 5)},
                       details={"question": "how many?"}, profile=prof)  # fmt: skip
        out += [base, spec]
    out.append(_record("understanding", "00008", 3008, "spec", profile={},
                       error={"type": "ValueError", "message": "file q.tsv row 9: empty"}))  # fmt: skip
    return out


def _latency(rng: random.Random) -> list[dict]:
    out = []
    workloads = {"t2i": {"baseline": 0.4, "nfe6": 0.025, "nfe1": 0.005},
                 "edit": {"baseline": 0.55, "nfe6": 0.03, "nfe1": 0.006}}  # fmt: skip
    for workload, variants in workloads.items():
        for i in range(5):
            sample, seed = f"{workload}-{i:02d}", 4000 + i
            for variant, seconds in variants.items():
                nfe = (EDIT_NFE if workload == "edit" else NFE)[variant]
                prof = _profile(seconds, nfe, MERGED[variant], rng)
                out.append(_record("latency", sample, seed, variant,
                                   metrics={"seconds": prof["seconds"]},
                                   details={"workload": workload}, profile=prof))  # fmt: skip
    return out


def _group_overall(records: list[dict], field: str, metric: str) -> float:
    groups: dict[str, list[float]] = {}
    for r in records:
        group = r["details"].get(field, r["output"].get(field))
        groups.setdefault(group, []).append(r["metrics"][metric])
    return float(np.mean([np.mean(v) for v in groups.values()]))


# What each synthetic suite declares (as the real suites do through Suite.meta()).
DECLARED = {
    "geneval": cmp.SuiteMeta("correct", "tag", report_metrics=("correct",)),
    "gedit": cmp.SuiteMeta("O", "task_type", report_metrics=("O", "SC", "PQ")),
    "understanding": cmp.SuiteMeta("correct"),
    "latency": cmp.SuiteMeta(None, "workload", "workload"),
}


def scores_for(records: list[dict], reference: str = "baseline") -> dict:
    """scores.json as the runner writes it (docs/run-store.md), computed from the records."""
    primary = {"geneval": "correct", "gedit": "O", "understanding": "correct",
               "latency": "seconds"}  # fmt: skip
    suites: dict[str, Any] = {}
    for suite in sorted({r["suite"] for r in records}):
        mine = [r for r in records if r["suite"] == suite]
        block: dict[str, Any] = {"primary_metric": primary[suite], "variants": {},
                                 "comparisons": {}}  # fmt: skip
        by_variant: dict[str, list[dict]] = {}
        for r in mine:
            by_variant.setdefault(r["variant"], []).append(r)
        for variant, recs in by_variant.items():
            ok = [r for r in recs if not r["error"]]
            scores: dict[str, Any] = {
                primary[suite]: float(np.mean([r["metrics"][primary[suite]] for r in ok]))
            }
            if suite == "geneval":
                scores["overall"] = _group_overall(ok, "tag", "correct")
            if suite == "gedit":
                scores["overall"] = _group_overall(ok, "task_type", "O")
            secs = [r["profile"]["seconds"] for r in ok]
            prof = {"seconds_median": float(np.median(secs)),
                    "overhead_share": sum(r["profile"]["overhead_seconds"] for r in ok) / sum(secs)}  # fmt: skip
            if "nfe" in ok[0]["profile"]:
                prof["nfe_mean"] = float(np.mean([r["profile"]["nfe"] for r in ok]))
                prof["merged_calls_mean"] = float(
                    np.mean([r["profile"]["merged_calls"] for r in ok])
                )
            block["variants"][variant] = {"n": len(recs), "errors": len(recs) - len(ok),
                                          "scores": scores, "profile": prof}  # fmt: skip
        meta = DECLARED[suite]
        block["declared"] = meta.to_dict()
        for variant, recs in by_variant.items():
            if variant == reference:
                continue
            ref, oth = cmp.paired(by_variant.get(reference, []), recs)
            block["comparisons"][variant] = {
                "reference": reference, "n_pairs": len(ref),
                "estimates": cmp.compare(ref, oth, meta, "candidate"),
            }  # fmt: skip
        suites[suite] = block
    return {"reference": reference, "suites": suites}


def write_run(
    run: Path,
    suites: tuple[str, ...] = ("geneval", "gedit", "understanding", "latency"),
    seed: int = 0,
    with_scores: bool = True,
    revision: str = "66c3f40e0000000000000000000000000000beef",
) -> Path:
    """Write a synthetic run directory and return it."""
    rng = random.Random(seed)
    run.mkdir(parents=True, exist_ok=True)
    makers = {"geneval": lambda: _geneval(run, rng), "gedit": lambda: _gedit(run, rng),
              "understanding": lambda: _understanding(rng), "latency": lambda: _latency(rng)}  # fmt: skip
    records = [r for s in suites for r in makers[s]()]
    manifest = {
        "hbench_version": "0.1.0", "config_path": "configs/demo.yaml", "config": {},
        "system": {"family": "shapes", "reference": "baseline",
                   "variants": {"baseline": {}, "nfe6": {}, "nfe1": {}, "spec": {}}},
        "seed": seed, "device": "cpu", "dtype": "float32",
        "versions": {"python": "3.11.2", "torch": "2.14.1"},
        "git": {"revision": revision, "dirty": False},
        "host": {"hostname": "ci-box", "platform": "linux", "cpu_count": 2, "cuda": None},
        "argv": ["hbench", "run", "configs/demo.yaml"],
        "started": "2026-11-21T22:00:00+00:00", "finished": "2026-11-21T22:03:00+00:00",
        "world_size": 1,
    }  # fmt: skip
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with (run / "records.jsonl").open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    if with_scores:
        (run / "scores.json").write_text(json.dumps(scores_for(records), indent=2))
    return run


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete synthetic run (all four suites, scores.json included). Do not modify."""
    return write_run(tmp_path_factory.mktemp("runs") / "demo")


@pytest.fixture(scope="session")
def demo_report(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hbench report`` of :func:`demo_run`; returns the output directory."""
    from hbench.reports.build import build_report

    out = tmp_path_factory.mktemp("report") / "out"
    build_report([demo_run], out)
    return out


@pytest.fixture()
def fresh_run(tmp_path: Path) -> Path:
    """A copy of the demo data a test may modify."""
    return write_run(tmp_path / "run")


def copy_run(src: Path, dst: Path) -> Path:
    """Copy a run directory."""
    shutil.copytree(src, dst)
    return dst

"""Interleaved wall-clock speed of shapes image engines against the teacher sampler.

DESIGN.md's definition: the same prompts and seeds, A B A B ... in one process after
warm-up, speedup = median over items of (reference seconds / variant seconds). References:
the teacher (BAGEL's loop, one forward per CFG branch) and, on request, ``teacher-batched``.

Run::

    python -m hbench.baselines.shapes.training.generator.bench --kinds nfe6,nfe1,euler6 --n 12 \
        --references teacher,teacher-batched
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hbench.baselines.shapes.generator import build_image_engine
from hbench.worlds.shapes import EDIT_KINDS, render, sample_edit
from hbench.worlds.shapes.geneval_format import shapes_metadata_set


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Print per-kind median paired speedups against each reference, T2I and editing (batch 1)."""
    ap = argparse.ArgumentParser(prog="python -m hbench.baselines.shapes.training.generator.bench")
    ap.add_argument("--kinds", default="nfe6,nfe1,euler6")
    ap.add_argument("--references", default="teacher", help="comma-separated reference kinds")
    ap.add_argument("--n", type=int, default=12, help="items per task")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--weights-dir", type=Path, default=None, help="default: the shipped weights")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    kinds, refs = args.kinds.split(","), args.references.split(",")
    engines = {k: build_image_engine(k, args.weights_dir) for k in dict.fromkeys([*refs, *kinds])}
    for e in engines.values():
        e.load("cpu", torch.float32)
    prompts = [m["prompt"] for m in shapes_metadata_set(max(1, args.n // 6 + 1), 7)][: args.n]
    rng = np.random.default_rng(7)
    edits = [sample_edit(rng, EDIT_KINDS[i % len(EDIT_KINDS)]) for i in range(args.n)]
    jobs = {
        "t2i": [lambda e, p=p, i=i: e.generate(p, i) for i, p in enumerate(prompts)],
        "edit": [
            lambda e, ed=ed, i=i: e.edit(render(ed.source), ed.instruction, i)
            for i, ed in enumerate(edits)
        ],
    }
    for task, fns in jobs.items():
        for e in engines.values():  # warm-up, never timed
            fns[0](e)
        times: dict[str, list[float]] = {k: [] for k in engines}
        for fn in fns:
            for k, e in engines.items():  # interleaved: references, variant, variant, ...
                times[k].append(_time(lambda e=e, fn=fn: fn(e)))
        for ref in refs:
            for k in (k for k in kinds if k != ref):
                ratios = np.array(times[ref]) / np.array(times[k])
                print(json.dumps({
                    "task": task, "kind": k, "reference": ref,
                    "speedup_median": round(float(np.median(ratios)), 2),
                    "reference_s_median": round(float(np.median(times[ref])), 4),
                    "variant_s_median": round(float(np.median(times[k])), 4), "n": len(fns),
                }), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed of speculative vs plain greedy decoding on held-out shapes captions (batch 1).

    python -m hbench.baselines.shapes.training.understanding.bench_speed --n 50 --ks 3,4,5 --out speed.json

Per DESIGN.md: variants interleaved per sample (greedy, spec k=..., greedy, ...) in one
process after warm-up; tokens/s is the mean over samples of new tokens / time (Spec-Bench);
speedup is also given as the median of per-sample paired ratios. ``wall`` measures
``time.perf_counter``; ``thread`` measures this thread's CPU time, which leaves out time
spent waiting for a busy CPU (the shared 2-core machine) and is reported beside wall time.
End to end = the whole ``understand`` call (image encoder, prompt pass, decoding); decode =
the runtime's decode phase after the prompt pass.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from hbench.baselines.shapes.understanding import build_text_engine

from .data import caption_example

BENCH_SEED = 9_000_017


def _run(engines: dict[str, object], samples, max_new: int, timer) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {name: [] for name in engines}
    for ex in samples:
        for name, eng in engines.items():  # interleaved A B C A B C ...
            t0 = timer()
            res = eng.understand(ex.image, ex.prompt, max_new)
            e2e = timer() - t0
            n = len(res.token_ids)
            out[name].append(
                {
                    "ids": res.token_ids,
                    "e2e_s": e2e,
                    "tps": n / e2e,
                    "decode_tps": (n - 1) / res.stats["decode_s"]
                    if res.stats["decode_s"] > 0
                    else None,
                    "tau": res.stats["acceptance_length"],
                    "ok": res.text == ex.answer,
                    "accept": res.stats.get("accept_per_position", []),
                }
            )
    return out


def _summary(runs: dict[str, list[dict]]) -> dict[str, dict]:
    base = runs["greedy"]
    res = {}
    for name, rows in runs.items():
        d = {
            "tokens_per_s": statistics.mean(r["tps"] for r in rows),
            "decode_tokens_per_s": statistics.mean(
                r["decode_tps"] for r in rows if r["decode_tps"]
            ),
            "acceptance_length": statistics.mean(r["tau"] for r in rows),
            "caption_exact": statistics.mean(r["ok"] for r in rows),
            "token_identical_to_greedy": statistics.mean(
                r["ids"] == b["ids"] for r, b in zip(rows, base, strict=True)
            ),
            "new_tokens_mean": statistics.mean(len(r["ids"]) for r in rows),
        }
        if name != "greedy":
            d["speedup_e2e_ratio_of_means"] = d["tokens_per_s"] / res["greedy"]["tokens_per_s"]
            d["speedup_decode_ratio_of_means"] = (
                d["decode_tokens_per_s"] / res["greedy"]["decode_tokens_per_s"]
            )
            d["speedup_e2e_median_paired"] = statistics.median(
                r["tps"] / b["tps"] for r, b in zip(rows, base, strict=True)
            )
            d["speedup_decode_median_paired"] = statistics.median(
                r["decode_tps"] / b["decode_tps"]
                for r, b in zip(rows, base, strict=True)
                if r["decode_tps"] and b["decode_tps"]
            )
            acc = [r["accept"] for r in rows if r["accept"]]
            width = max(len(a) for a in acc) if acc else 0
            d["accept_per_position_mean"] = [
                statistics.mean(a[i] for a in acc if len(a) > i) for i in range(width)
            ]
        res[name] = d
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weights-dir", type=Path, default=None)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--ks", default="3,4,5")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--clocks", default="thread,wall")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    samples = [
        caption_example(np.random.default_rng([BENCH_SEED, i])) for i in range(args.n + args.warmup)
    ]
    report: dict = {"n": args.n, "threads": 1, "max_new_tokens": args.max_new_tokens}
    for clock in args.clocks.split(","):
        engines = {"greedy": build_text_engine("greedy", args.weights_dir, clock=clock)}
        for k in (int(x) for x in args.ks.split(",")):
            engines[f"spec-k{k}"] = build_text_engine("spec", args.weights_dir, k=k, clock=clock)
        for e in engines.values():
            e.load("cpu", torch.float32)
        timer = time.thread_time if clock == "thread" else time.perf_counter
        _run(engines, samples[: args.warmup], args.max_new_tokens, timer)
        report[clock] = _summary(_run(engines, samples[args.warmup :], args.max_new_tokens, timer))
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

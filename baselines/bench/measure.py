"""Timing and summary of decoding methods: interleaved measurement, paired speedups, run store.

Model-agnostic: runners are callables from a sample to new token ids; :mod:`.spec` (text
models) and the shapes peer benchmark build them and hand them here.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

import numpy as np
import torch

from hbench.harness import statistics as st
from hbench.harness.profiler import Timer
from hbench.harness.store import RunStore, now, record_key

from .methods import REFERENCE, ForwardCount

SUITE = "specbench"

DETAIL_KEYS = ("decode_s", "drafted_per_position", "accepted_per_position")


def _run_one(run, modules, sample: Any, device: str) -> dict[str, Any]:
    counter = ForwardCount(modules)
    try:
        with Timer(device) as t:
            out = run(sample)
    finally:
        counter.remove()
    tokens, details = out if isinstance(out, tuple) else (out, {})
    n = len(tokens)
    tau = (n - 1) / (counter.calls - 1) if counter.calls > 1 else 1.0
    return {"tokens": tokens, "seconds": t.seconds, "new_tokens": n, "tau": tau,
            "target_forwards": counter.calls, **details}  # fmt: skip


def measure(
    runners: dict[str, Any], modules, samples: list, warmup: list, repeats: int, device: str
) -> dict[str, list[dict[str, Any]]]:
    """Time every runner on every sample, interleaved, after one pass over ``warmup``.

    A runner maps a sample to its new token ids, or to ``(token ids, details)`` where
    details may hold ``decode_s`` (decode-phase seconds after the prompt pass).
    """
    names = list(runners)
    for sample in warmup:  # never time a first call
        for name in names:
            runners[name](sample)
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for i, sample in enumerate(samples):
        order = names[i % len(names) :] + names[: i % len(names)]  # rotate: no position bias
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for _ in range(repeats):
            for name in order:
                runs[name].append(_run_one(runners[name], modules, sample, device))
        for name in names:
            best = dict(runs[name][0])
            best["seconds"] = float(np.median([r["seconds"] for r in runs[name]]))
            results[name].append(best)
        print(f"measured sample {i + 1}/{len(samples)}", file=sys.stderr, flush=True)  # long runs
    return results


def _acceptance(rows: list[dict[str, Any]]) -> list[float] | None:
    """Pooled acceptance rate per draft position (accepted / tried, all rounds of all rows)."""
    if not rows or not all("drafted_per_position" in r for r in rows):
        return None
    n = max(len(r["drafted_per_position"]) for r in rows)
    if n == 0:  # plain decoding drafts nothing
        return None
    tried, acc = np.zeros(n), np.zeros(n)
    for r in rows:
        d, a = r["drafted_per_position"], r["accepted_per_position"]
        tried[: len(d)] += d
        acc[: len(a)] += a
    return [float(x) for x in acc / np.maximum(tried, 1)]


def _per_token(rows: list[dict[str, Any]], key: str = "seconds") -> list[float] | None:
    """Seconds per new token (``decode_s``: per token after the first), None if unrecorded."""
    if not all(key in r for r in rows):
        return None
    drop = 1 if key == "decode_s" else 0
    return [r[key] / max(r["new_tokens"] - drop, 1) for r in rows]


def _speedup(ref_spt: list[float], spt: list[float]) -> dict[str, Any]:
    sp = st.speedup(ref_spt, spt)
    ratios = np.asarray(ref_spt) / np.asarray(spt)
    return {"median": sp.median, "ci_low": sp.ci_low, "ci_high": sp.ci_high,
            "p10": float(np.percentile(ratios, 10)), "p90": float(np.percentile(ratios, 90)),
            "n": sp.n}  # fmt: skip


def _compare(ref: list[dict[str, Any]], rows: list[dict[str, Any]], reference: str) -> dict:
    em = st.exact_match_rate([r["tokens"] for r in ref], [r["tokens"] for r in rows])
    out = {
        "reference": reference,
        "speedup": _speedup(_per_token(ref), _per_token(rows)),
        "exact_match": {"rate": em.estimate, "ci_low": em.low, "ci_high": em.high, "n": em.n},
    }
    ref_dec, dec = _per_token(ref, "decode_s"), _per_token(rows, "decode_s")
    if ref_dec and dec:
        out["decode_speedup"] = _speedup(ref_dec, dec)
    return out


def summarize(
    results: dict[str, list[dict[str, Any]]], pairs: tuple[tuple[str, str], ...] = ()
) -> dict[str, Any]:
    """Per-variant tokens/s and tau; paired comparisons of every variant with the reference.

    ``pairs`` adds ``(other, reference)`` comparisons between two non-reference variants,
    keyed ``"<other> vs <reference>"``.
    """
    out: dict[str, Any] = {"variants": {}, "comparisons": {}}
    for name, rows in results.items():
        out["variants"][name] = {
            "n": len(rows),
            "tokens_per_s": float(np.mean([r["new_tokens"] / r["seconds"] for r in rows])),
            "tau": float(np.mean([r["tau"] for r in rows])),
            "tokens_per_forward": float(
                np.mean([r["new_tokens"] / max(r["target_forwards"], 1) for r in rows])
            ),
            "new_tokens_mean": float(np.mean([r["new_tokens"] for r in rows])),
            "seconds_median": float(np.median([r["seconds"] for r in rows])),
        }
        dec = _per_token(rows, "decode_s")
        if dec:
            out["variants"][name]["decode_tokens_per_s"] = float(np.mean(1 / np.asarray(dec)))
        rates = _acceptance(rows)
        if rates is not None:
            out["variants"][name]["accept_per_position"] = rates
        if name != REFERENCE:
            out["comparisons"][name] = _compare(results[REFERENCE], rows, REFERENCE)
    for other, ref in pairs:
        out["comparisons"][f"{other} vs {ref}"] = _compare(results[ref], results[other], ref)
    return out


def print_summary(summary: dict[str, Any], header: str) -> None:
    """The table: tokens/s, median paired speedup over the reference with CI, tau, exact."""
    print(header)
    w = max(12, *(len(n) for n in summary["variants"]))
    head = f"{'method':<{w}} {'tok/s':>8} {'speedup':>8} {'95% CI':>15} {'p10-p90':>13} {'tau':>5} {'tok/fwd':>7} {'exact':>6}"
    print(head)
    for name, v in summary["variants"].items():
        c = summary["comparisons"].get(name)
        if c is None:
            extra = f"{'1.00':>8} {'':>15} {'':>13}"
            exact = "ref"
        else:
            s = c["speedup"]
            ci = "[{:.2f}, {:.2f}]".format(s["ci_low"], s["ci_high"])
            spread = "{:.2f}-{:.2f}".format(s["p10"], s["p90"])
            extra = f"{s['median']:>8.2f} {ci:>15} {spread:>13}"
            exact = f"{c['exact_match']['rate']:.2f}"
        print(
            f"{name:<{w}} {v['tokens_per_s']:>8.1f} {extra} {v['tau']:>5.2f} {v['tokens_per_forward']:>7.2f} {exact:>6}"
        )
    for name, v in summary["variants"].items():
        if v.get("accept_per_position"):
            rates = " ".join(f"{x:.2f}" for x in v["accept_per_position"])
            print(f"{name}: acceptance per draft position {rates}")
    for key, c in summary["comparisons"].items():  # pairs, and decode-phase speedups
        for label, s in (("", c["speedup"]), ("decode ", c.get("decode_speedup"))):
            if s and (" vs " in key or label):
                print(f"{key}: {label}median paired speedup {s['median']:.2f} "
                      f"[{s['ci_low']:.2f}, {s['ci_high']:.2f}]")  # fmt: skip


def write_run(
    out: str, args, summary, results, prompt_tokens: list[int], suite: str = SUITE, **config
) -> None:
    """records.jsonl, manifest.json (``vars(args)`` plus ``config``) and scores.json."""
    store = RunStore(out)
    started = now()
    for name, rows in results.items():
        for i, r in enumerate(rows):
            store.append({
                "key": record_key(suite, f"{i:05d}", 0, name), "suite": suite,
                "sample": f"{i:05d}", "seed": 0, "variant": name,
                "output": {"token_ids": r["tokens"], "prompt_tokens": prompt_tokens[i]},
                "metrics": {"tokens_per_s": r["new_tokens"] / r["seconds"],
                            "new_tokens": r["new_tokens"], "tau": r["tau"]},
                "details": {"target_forwards": r["target_forwards"],
                            **{k: r[k] for k in DETAIL_KEYS if k in r}},
                "profile": {"seconds": r["seconds"]}, "error": None, "finished_at": now(),
            })  # fmt: skip
    store.close()
    import transformers

    store.write_json("manifest.json", {
        "config": {**vars(args), **config}, "argv": sys.argv,
        "device": args.device, "dtype": args.dtype, "seed": 0,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__},
        "host": {"platform": platform.platform(), "threads": torch.get_num_threads()},
        "started": started, "finished": now(), "world_size": 1,
    })  # fmt: skip
    store.write_json(
        "scores.json", {"suites": {suite: {"primary_metric": "tokens_per_s", **summary}}}
    )

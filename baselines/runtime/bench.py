"""Speculative-decoding speed benchmark (a command, not a test).

On one target and the same prompts, interleaved in one process after warm-up, it times our
plain greedy decoding (the reference), our speculative decoder (draft model and/or EAGLE
head) and transformers' ``generate`` as peers (plain, ``assistant_model=``,
``prompt_lookup_num_tokens=``). It prints tokens/s (Spec-Bench: mean over samples of
new tokens / wall time), the median paired speedup over the reference with its bootstrap
interval and p10-p90 spread, tau (new tokens - 1 per target forward after the first: Spec-Bench's
accepted length when the first forward is a plain prefill, as in ours and hf-greedy), tokens per
target forward (new tokens / all target forwards: comparable across methods, also for
transformers' assisted generation, whose first forward already verifies drafts), and the
exact-match rate against the reference, and writes records and scores to a run directory.

Example::

    python -m hbench.baselines.runtime.bench --target /models/llm --draft /models/small \\
        --head head.safetensors --prompts prompts.jsonl --max-new-tokens 128 --out runs/spec
    python -m hbench.baselines.runtime.bench --tiny --out runs/spec-tiny   # offline demo
    python -m hbench.baselines.runtime.bench --shapes --samples 50 --out runs/spec-shapes

``--shapes`` benchmarks the committed shapes understanding target (image captions) instead;
see :mod:`hbench.baselines.shapes.understanding.bench_peers`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hbench.harness import statistics as st
from hbench.harness.profiler import Timer
from hbench.harness.store import RunStore, now, record_key

from .bench_methods import (
    METHODS,
    REFERENCE,
    ForwardCount,
    Models,
    assistant_settings,
    build_runners,
)

SUITE = "specbench"
DEFAULT_PROMPTS = (
    "the red circle is above the blue square and the green triangle is",
    "a big cat on the table and a small dog in the house , the cat is",
    "how many red square are there ? answer : there are",
    "the sun is in the sky , the tree is left of the house and the car is",
    "what colour is the circle ? the circle is",
    "one two three four one two three four one two",
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbench bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--target", help="target model folder (transformers save_pretrained)")
    p.add_argument("--draft", help="draft model folder (same tokenizer)")
    p.add_argument("--head", help="EAGLE head .safetensors (runtime/eagle.py format)")
    p.add_argument("--tiny", action="store_true", help="build tiny offline models (demo)")
    p.add_argument("--tiny-train-steps", type=int, default=150, help="EAGLE head steps (--tiny)")
    p.add_argument(
        "--shapes", action="store_true",
        help="the shipped shapes understanding target on held-out image captions",
    )  # fmt: skip
    p.add_argument("--weights-dir", help="shapes weights folder (--shapes; default: shipped)")
    p.add_argument("--prompts", help="file: .jsonl with a 'prompt' field, or one prompt per line")
    p.add_argument("--samples", type=int, default=0, help="use the first N prompts (0: all)")
    p.add_argument("--methods", default="", help=f"comma list of {', '.join(METHODS)}")
    p.add_argument(
        "--k",
        type=int,
        default=None,
        help="draft tokens per round (ours; 4, --shapes: the family's spec_k)",
    )
    p.add_argument("--draft-k", type=int, default=32, help="spec-draft's k (--shapes only)")
    p.add_argument("--pld-tokens", type=int, default=3, help="prompt_lookup_num_tokens")
    p.add_argument(
        "--assisted", default=None,
        help="hf-assisted settings: 'default' (transformers') or SCHEDULE:TOKENS:THRESHOLD, e.g. "
        "constant:6:0 (threshold 0 = off); with --shapes a ';'-list times each as a variant "
        "(default: 'default'; --shapes: the best of the shapes sweep)",
    )  # fmt: skip
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--cache", default="prealloc", choices=("prealloc", "dynamic", "static"))
    p.add_argument(
        "--forward", default="auto", choices=("auto", "lean", "hf"),
        help="our target forward: lean (Llama-style decoders), hf (transformers), auto",
    )  # fmt: skip
    p.add_argument("--warmup", type=int, default=2, help="warm-up prompts per method")
    p.add_argument("--repeats", type=int, default=1, help="timed repeats per sample")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    p.add_argument("--out", help="run directory for records.jsonl and scores.json")
    return p


def _prompts(path: str | None) -> list[str]:
    if not path:
        return list(DEFAULT_PROMPTS)
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--prompts file not found: {file}")
    out = []
    for n, line in enumerate(file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        if file.suffix == ".jsonl":
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{file}:{n}: invalid JSON: {err.msg}") from err
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
                raise ValueError(f"{file}:{n}: expected an object with a string 'prompt'")
            out.append(row["prompt"])
        else:
            out.append(line)
    if not out:
        raise ValueError(f"{file}: no prompts")
    return out


def _load(args: argparse.Namespace) -> tuple[Models, Any]:
    from hbench.baselines.hf.engine import load_model

    from .eagle import EagleHead

    dtype = getattr(torch, args.dtype)
    target, proc, vlm = load_model(args.target, args.device, dtype)
    if vlm:
        raise NotImplementedError("the benchmark decodes text prompts: give a causal LM folder")
    draft = load_model(args.draft, args.device, dtype)[0] if args.draft else None
    head = None
    if args.head:
        head = EagleHead.load(args.head, device=args.device).to(dtype).eval()
    tok = getattr(proc, "tokenizer", proc)
    models = Models(target, draft, head, tok.eos_token_id, tok.pad_token_id)
    return models, tok


def _build_tiny(folder: Path, train_steps: int) -> tuple[str, str, str]:
    """Tiny random Llama target, a noisy copy as draft model, and an EAGLE head fitted for
    ``train_steps`` steps to the target's greedy continuations of random word prompts
    (never the benchmark prompts)."""
    from hbench.baselines.hf.engine import load_model
    from hbench.baselines.hf.tiny import build_tiny_draft, build_tiny_lm

    from .decoding import DecodeConfig
    from .eagle import EagleHead, EagleHeadConfig
    from .eagle_train import eagle_loss, target_features
    from .greedy import plain_decode
    from .lean import make_target
    from .target import Prompt

    build_tiny_lm(folder / "target", "llama", seed=0, hidden=256, layers=4)
    build_tiny_draft(folder / "target", folder / "draft", noise=0.002)
    model = load_model(folder / "target", "cpu", torch.float32)[0]
    gen = torch.Generator().manual_seed(1)
    target = make_target(model)
    seqs = []
    for _ in range(48):
        ids = torch.randint(5, model.config.vocab_size, (8,), generator=gen)
        out = plain_decode(target, Prompt(input_ids=ids), DecodeConfig(max_new_tokens=40))
        seqs.append(torch.cat([ids, torch.tensor(out.token_ids)]))
    length = min(len(s) for s in seqs)
    batch = torch.stack([s[:length] for s in seqs])
    torch.manual_seed(0)
    head = EagleHead(EagleHeadConfig.for_target(model.config))
    feats, embeds, logits = target_features(model, (-1,), input_ids=batch)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(train_steps):
        opt.zero_grad()
        eagle_loss(head, model.get_output_embeddings(), feats, embeds, logits, hard=True).backward()
        opt.step()
    head.save(folder / "head.safetensors")
    return str(folder / "target"), str(folder / "draft"), str(folder / "head.safetensors")


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
    return results


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
                            **({"decode_s": r["decode_s"]} if "decode_s" in r else {})},
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns a process exit code."""
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.shapes:  # lazy: the runtime does not depend on the shapes family
        from hbench.baselines.shapes.understanding.bench_peers import run_shapes

        return run_shapes(args)
    args.k = 4 if args.k is None else args.k
    args.assisted = args.assisted or "default"
    tmp = None
    if args.tiny:
        tmp = tempfile.TemporaryDirectory()
        args.target, args.draft, args.head = _build_tiny(Path(tmp.name), args.tiny_train_steps)
    if not args.target:
        print("error: give --target (or --tiny)", file=sys.stderr)
        return 2
    methods = [m for m in args.methods.split(",") if m] or [
        m for m in METHODS
        if (m not in ("spec-draft", "hf-assisted") or args.draft) and (m != "spec-head" or args.head)
    ]  # fmt: skip
    if REFERENCE not in methods:
        methods.insert(0, REFERENCE)
    models, tok = _load(args)
    prompts = _prompts(args.prompts)
    prompts = prompts[: args.samples] if args.samples else prompts
    encoded = [torch.tensor(tok(p)["input_ids"], device=args.device) for p in prompts]
    if models.draft is not None:
        models.draft.generation_config.update(**assistant_settings(args.assisted))
    runners, modules = build_runners(models, methods, args.k, args.max_new_tokens, args.cache,
                            args.pld_tokens, args.forward)  # fmt: skip
    with torch.inference_mode():
        results = measure(runners, modules, encoded, encoded[: args.warmup], args.repeats,
                          args.device)  # fmt: skip
    summary = summarize(results)
    print_summary(summary, f"speculative decoding benchmark: k={args.k} forward={args.forward} "
                  f"cache={args.cache} max_new_tokens={args.max_new_tokens} device={args.device}")  # fmt: skip
    if args.out:
        write_run(args.out, args, summary, results, [int(e.shape[0]) for e in encoded])
        print(f"wrote {args.out}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

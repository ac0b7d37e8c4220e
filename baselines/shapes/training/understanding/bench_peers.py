"""Shapes captions: our greedy and speculative decoding against transformers' ``generate``.

    hbench bench --shapes --samples 50 --out runs/specbench-shapes
    hbench bench --shapes --samples 20 --methods greedy,hf-greedy,hf-assisted \\
        --assisted "default;heuristic:5:0.4;constant:4:0;constant:6:0" --out runs/sweep

One process, batch 1, one torch thread unless ``--threads``: the committed target captions
held-out scenes (``bench_speed``'s sample stream, the same samples for every method), every
method interleaved per sample after warm-up. Measurement, summary (Spec-Bench tokens/s, median
paired speedup with bootstrap CI, tau from target-forward hooks, exact match against our
greedy) and the run store are :mod:`hbench.baselines.bench.measure`'s. transformers is given
the image through :mod:`.hf_peer` (``generate(inputs_embeds=..., assistant_model=...)`` does
not run in transformers 5.23; see there); ``hf-greedy-embeds`` is the plain
``generate(inputs_embeds=...)`` path, for comparison.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hbench.baselines.bench.measure import measure, print_summary, summarize, write_run
from hbench.baselines.bench.methods import REFERENCE, assistant_settings
from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.drafters import TargetDrafter
from hbench.baselines.runtime.lean import make_target
from hbench.baselines.runtime.speculative import speculative_decode
from hbench.baselines.runtime.target import Prompt
from hbench.baselines.shapes.family import ShapesOptions
from hbench.baselines.shapes.understanding.engine import ShapesTextEngine
from hbench.baselines.shapes.understanding.hf_peer import PrefixLlama, hf_decode, prefix_lm
from hbench.baselines.shapes.understanding.loading import load_assistant, load_target
from hbench.baselines.shapes.understanding.model import ShapesVLM, image_tensor
from hbench.baselines.shapes.understanding.tokenizer import prompt_ids
from hbench.baselines.shapes.understanding.weights import ASSISTANT_FILE, WEIGHTS_DIR, read_manifest

from .bench_speed import BENCH_SEED
from .data import Example, caption_example
from .reference_decode import hf_greedy

SUITE = "specbench-shapes"
FIRST_SAMPLE = 3  # bench_speed's timed samples start after its 3 warm-up samples
DEFAULT_K = ShapesOptions().spec_k  # the shapes family's: best end to end for the head
# Fastest transformers assisted-generation setting of the sweep (README): 32 draft tokens per
# round (the assistant stops at EOS), confidence stop off.
BEST_ASSISTED = "constant:32:0"


@dataclass
class Context:
    """What the method builders share: one HF target copy, options."""

    model: ShapesVLM
    lm: PrefixLlama
    tok: Any
    weights_dir: Path
    args: argparse.Namespace

    def decode(self, ex: Example, **kwargs: Any) -> list[int]:
        return hf_decode(
            self.model, self.lm, self.tok, ex.image, ex.prompt, self.args.max_new_tokens, **kwargs
        )


Built = tuple[dict[str, Callable], list[torch.nn.Module], dict[str, Any]]


def _ours(kind: str) -> Callable[[Context, str], Built]:
    def build(ctx: Context, name: str) -> Built:
        a = ctx.args
        eng = ShapesTextEngine(kind, ctx.weights_dir, k=a.k, cache_kind=a.cache, forward=a.forward)
        eng.load(a.device, getattr(torch, a.dtype))

        def run(ex: Example) -> tuple[list[int], dict[str, float]]:
            res = eng.understand(ex.image, ex.prompt, a.max_new_tokens)
            return res.token_ids, {"decode_s": res.stats["decode_s"]}

        return {name: run}, [eng.target.forward_module], eng.describe()

    return build


def _spec_draft(ctx: Context, name: str) -> Built:
    """Our speculative loop drafting with the same distilled assistant as transformers' peer.

    The assistant runs on the runtime's forward (``--forward``) and reads the target's prompt
    embeddings, image prefix included (same width and embedding table).
    """
    a, model, tok = ctx.args, ctx.model, ctx.tok
    dtype = getattr(torch, a.dtype)
    target = make_target(model.lm, a.forward, cache_kind=a.cache)
    asst = load_assistant(ctx.weights_dir, dtype, a.device)
    drafter = TargetDrafter(make_target(asst, a.forward, cache_kind=a.cache), reads_embeddings=True)
    cfg = DecodeConfig(max_new_tokens=a.max_new_tokens, eos_token_ids=(tok.eos_token_id,))

    def run(ex: Example) -> tuple[list[int], dict[str, float]]:
        ids = torch.tensor([prompt_ids(tok, ex.prompt)], device=a.device)
        embeds = model.embed_prompt(image_tensor(ex.image).to(a.device, dtype), ids)[0]
        prompt = Prompt(inputs_embeds=embeds, prefix_len=model.prefix_len)
        res = speculative_decode(target, drafter, prompt, cfg, k=a.draft_k)
        return res.token_ids, {"decode_s": res.stats.decode_s}

    return (
        {name: run},
        [target.forward_module],
        {"k": a.draft_k, "forward": type(target).__name__},
    )


def _hf_greedy(ctx: Context, name: str) -> Built:
    return {name: lambda ex: ctx.decode(ex)}, [], {}


def _hf_greedy_embeds(ctx: Context, name: str) -> Built:
    n = ctx.args.max_new_tokens
    return {name: lambda ex: hf_greedy(ctx.model, ctx.tok, ex.image, ex.prompt, n)}, [], {}


def _hf_pld(ctx: Context, name: str) -> Built:
    n = ctx.args.pld_tokens
    return {name: lambda ex: ctx.decode(ex, prompt_lookup_num_tokens=n)}, [], {"tokens": n}


def _hf_assisted(ctx: Context, name: str) -> Built:
    """One variant per ``--assisted`` spec, each with its own assistant (schedules keep state)."""
    specs = [s.strip() for s in ctx.args.assisted.split(";") if s.strip()]
    runners, desc = {}, {}
    for spec in specs:
        asst = load_assistant(ctx.weights_dir, getattr(torch, ctx.args.dtype), ctx.args.device)
        asst.generation_config.update(**assistant_settings(spec))
        variant = name if len(specs) == 1 else f"{name}[{spec}]"
        runners[variant] = lambda ex, a=asst: ctx.decode(ex, assistant_model=a)
        desc[variant] = {k: getattr(asst.generation_config, k) for k in (
            "num_assistant_tokens", "num_assistant_tokens_schedule",
            "assistant_confidence_threshold")}  # fmt: skip
    entry = read_manifest(ctx.weights_dir)["files"][ASSISTANT_FILE]
    return runners, [], {"settings": desc, "sha256": entry["sha256"], "config": entry["config"]}


METHODS: dict[str, tuple[str, Callable[[Context, str], Built]]] = {
    "greedy": ("ours: KV-cached greedy on the runtime (the reference)", _ours("greedy")),
    "spec-head": ("ours: speculative decoding, EAGLE head, chain of k", _ours("spec")),
    "spec-draft": ("ours: speculative decoding, the distilled assistant, k=draft_k", _spec_draft),
    "hf-greedy": ("transformers generate(), greedy (image via hf_peer prefix_embeds)", _hf_greedy),
    "hf-greedy-embeds": ("transformers generate(inputs_embeds=...), greedy", _hf_greedy_embeds),
    "hf-assisted": ("transformers generate(assistant_model=distilled assistant)", _hf_assisted),
    "hf-pld": ("transformers generate(prompt_lookup_num_tokens=n)", _hf_pld),
}


def caption_samples(n: int) -> list[Example]:
    """The held-out captions ``bench_speed`` times (seed stream ``BENCH_SEED``)."""
    return [
        caption_example(np.random.default_rng([BENCH_SEED, i]))
        for i in range(FIRST_SAMPLE, FIRST_SAMPLE + n)
    ]


def _pairs(names: list[str]) -> tuple[tuple[str, str], ...]:
    """Extra comparisons: ours vs each HF peer, and each HF accelerated method vs hf-greedy."""
    hf_fast = [m for m in names if m.startswith(("hf-assisted", "hf-pld"))]
    out = [(s, m) for s in names if s.startswith("spec-") for m in [*hf_fast, "hf-greedy"]]
    out += [(m, "hf-greedy") for m in hf_fast if "hf-greedy" in names]
    return tuple((a, b) for a, b in out if b in names)


def run_shapes(args: argparse.Namespace) -> int:
    """``hbench bench --shapes``: build the methods, measure, print, write the run."""
    torch.set_num_threads(args.threads or 1)
    args.k = DEFAULT_K if args.k is None else args.k
    args.assisted = args.assisted or BEST_ASSISTED
    methods = [m for m in args.methods.split(",") if m] or list(METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown --shapes method(s) {unknown}. Available: {', '.join(METHODS)}")
    methods = [REFERENCE, *[m for m in methods if m != REFERENCE]]
    for spec in args.assisted.split(";"):
        assistant_settings(spec.strip())  # check every spec before loading weights
    weights_dir = Path(args.weights_dir) if args.weights_dir else WEIGHTS_DIR
    model, tok = load_target(weights_dir, getattr(torch, args.dtype), args.device)
    ctx = Context(model, prefix_lm(model.lm), tok, weights_dir, args)
    runners, modules, described = {}, [ctx.lm.model], {}
    for name in methods:
        r, mods, desc = METHODS[name][1](ctx, name)
        runners.update(r)
        modules += mods
        described[name] = desc
    samples = caption_samples(args.samples or 50)
    with torch.inference_mode():
        results = measure(runners, modules, samples, samples[: args.warmup], args.repeats,
                          args.device)  # fmt: skip
    summary = summarize(results, _pairs(list(runners)))
    print_summary(summary, f"shapes captions: n={len(samples)} k={args.k} draft_k={args.draft_k} "
                  f"max_new_tokens={args.max_new_tokens} device={args.device} "
                  f"threads={torch.get_num_threads()}")  # fmt: skip
    if args.out:
        prompt_tokens = [model.prefix_len + len(prompt_ids(tok, ex.prompt)) for ex in samples]
        write_run(args.out, args, summary, results, prompt_tokens, SUITE,
                  methods={m: METHODS[m][0] for m in methods}, described=described,
                  samples={"seed_stream": BENCH_SEED, "first": FIRST_SAMPLE, "n": len(samples)})  # fmt: skip
        print(f"wrote {args.out}")
    return 0

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

    python -m hbench.baselines.bench.spec --target /models/llm --draft /models/small \\
        --head head.safetensors --prompts prompts.jsonl --max-new-tokens 128 --out runs/spec
    python -m hbench.baselines.bench.spec --tiny --out runs/spec-tiny   # offline demo
    python -m hbench.baselines.bench.spec --shapes --samples 50 --out runs/spec-shapes

``--shapes`` benchmarks the committed shapes understanding target (image captions) instead;
see :mod:`hbench.baselines.shapes.training.understanding.bench_peers`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from .measure import measure, print_summary, summarize, write_run
from .methods import METHODS, REFERENCE, Models, assistant_settings, build_runners

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
    p.add_argument(
        "--draft", help="draft model folder (same tokenizer) or trimmed draft .safetensors"
    )
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
    p.add_argument(
        "--chat-template", action="store_true",
        help="wrap each prompt as a user turn with the tokenizer's chat template",
    )  # fmt: skip
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
    from hbench.baselines.hf.draft_model import load_draft
    from hbench.baselines.hf.engine import load_model
    from hbench.baselines.hf.fetch import resolve_model_path
    from hbench.baselines.runtime.eagle import EagleHead

    dtype = getattr(torch, args.dtype)
    # fetched:NAME / shipped:NAME as in configs (hbench models fetch; the package's weights)
    target, proc, vlm = load_model(resolve_model_path(args.target), args.device, dtype)
    if vlm:
        raise NotImplementedError("the benchmark decodes text prompts: give a causal LM folder")
    # a model folder, or a trimmed draft file built on the target (hf/draft_model.py)
    draft = load_draft(resolve_model_path(args.draft), target) if args.draft else None
    head = None
    if args.head:
        head = EagleHead.load(resolve_model_path(args.head), device=args.device).to(dtype).eval()
    tok = getattr(proc, "tokenizer", proc)
    models = Models(target, draft, head, tok.eos_token_id, tok.pad_token_id)
    return models, tok


def _build_tiny(folder: Path, train_steps: int) -> tuple[str, str, str]:
    """Tiny random Llama target, a noisy copy as draft model, and an EAGLE head fitted for
    ``train_steps`` steps to the target's greedy continuations of random word prompts
    (never the benchmark prompts)."""
    from hbench.baselines.hf.engine import load_model
    from hbench.baselines.hf.tiny import build_tiny_draft, build_tiny_lm
    from hbench.baselines.runtime.decoding import DecodeConfig
    from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig
    from hbench.baselines.runtime.eagle_train import eagle_loss, target_features
    from hbench.baselines.runtime.greedy import plain_decode
    from hbench.baselines.runtime.lean import make_target
    from hbench.baselines.runtime.target import Prompt

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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns a process exit code."""
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.shapes:  # lazy: torch and the shapes models only when asked for
        from hbench.baselines.shapes.training.understanding.bench_peers import run_shapes

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
        if m != "spec-head-full"  # a measurement of the draft vocabulary: only when asked
        and (m not in ("spec-draft", "hf-assisted") or args.draft)
        and (m not in ("spec-head", "spec-head-full") or args.head)
    ]  # fmt: skip
    if REFERENCE not in methods:
        methods.insert(0, REFERENCE)
    models, tok = _load(args)
    prompts = _prompts(args.prompts)
    prompts = prompts[: args.samples] if args.samples else prompts
    if args.chat_template:
        from hbench.baselines.hf.engine import text_prompt

        encoded = [text_prompt(tok, p, True, args.device).input_ids for p in prompts]
    else:
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

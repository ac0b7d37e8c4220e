"""Train the shapes understanding target (caption + VQA), resumable and seeded.

    python -m hbench.baselines.shapes.training.understanding.train_target --out /work/train-logs/understanding/target

Data is drawn on the fly from the shapes world with ``SeedSequence([seed, step])``, so a
resumed run sees exactly the batches an uninterrupted run would. Held-out evaluation uses
a different seed stream (``EVAL_SEED``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from hbench.baselines.runtime.train_step import optimizer_step
from hbench.baselines.shapes.understanding.loading import load_target
from hbench.baselines.shapes.understanding.model import ShapesVLM, TargetConfig
from hbench.baselines.shapes.understanding.tokenizer import build_tokenizer
from hbench.worlds.shapes import final_answer

from .checkpoint import load_checkpoint, save_checkpoint
from .data import VQA_RESPONSES, caption_example, collate, sample_example, vqa_example
from .phases import Settings, check_phases, parse_phases, settings_at
from .reference_decode import hf_greedy, strip_eos

EVAL_SEED = 7_000_003
# A long VQA response (reasoned, restated: a description of <= 35 words; keyed: <= 29 words)
VQA_TOKENS = 60


def evaluate(model: ShapesVLM, tok, n: int) -> dict[str, float]:
    """Held-out caption exact match and VQA accuracy (overall and per question kind)."""
    model.eval()
    cap = 0
    right: dict[str, list[bool]] = {}
    for i in range(n):
        ex = caption_example(np.random.default_rng([EVAL_SEED, 0, i]))
        out = tok.decode(strip_eos(tok, hf_greedy(model, tok, ex.image, ex.prompt, 40)))
        cap += out.strip() == ex.answer
        ex = vqa_example(np.random.default_rng([EVAL_SEED, 1, i]))
        out = tok.decode(strip_eos(tok, hf_greedy(model, tok, ex.image, ex.prompt, VQA_TOKENS)))
        right.setdefault(ex.task, []).append(final_answer(out) == ex.answer)
    model.train()
    per_kind = {f"vqa_acc/{k}": sum(v) / len(v) for k, v in sorted(right.items())}
    vqa = sum(sum(v) for v in right.values()) / n
    return {"caption_exact": cap / n, "vqa_acc": vqa, **per_kind}


def weighted_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    answer_pos: torch.Tensor | None = None,
    answer_weight: float = 1.0,
) -> torch.Tensor:
    """Cross-entropy where each example weighs ``sqrt(answer length)``, not its length.

    A plain token mean lets 28-token captions drown the one-word VQA answers. Within an
    example, the tokens marked by ``answer_pos`` (the answer word after a reasoned
    description) weigh ``answer_weight``, the others 1.
    """
    tgt = labels[:, 1:]
    ce = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]),
        tgt.reshape(-1),
        ignore_index=-100,
        reduction="none",
    ).view(tgt.shape)
    valid = (tgt != -100).float()
    if answer_pos is not None and answer_weight != 1.0:
        valid = valid * (1 + (answer_weight - 1) * answer_pos[:, 1:].float())
    n = (tgt != -100).sum(1).clamp(min=1)
    per_ex = (ce * valid).sum(1) / valid.sum(1).clamp(min=1)  # weighted mean over each answer
    w = n.float().sqrt()
    return (per_ex * w).sum() / w.sum()


def _config(args: argparse.Namespace, vocab: int, init: TargetConfig | None) -> TargetConfig:
    """Sizes from the flags, or those of ``--init-from``'s target (flags must then agree)."""
    sizes = {"hidden": args.hidden, "layers": args.layers, "ffn": args.ffn}
    if init is None:  # unset flags keep TargetConfig's own defaults
        return TargetConfig(vocab, **{k: v for k, v in sizes.items() if v is not None})
    for k, v in sizes.items():
        if v is not None and v != getattr(init, k):
            raise ValueError(
                f"--{k} {v} disagrees with the target in {args.init_from} ({k}={getattr(init, k)})"
            )
    if init.vocab_size != vocab:
        raise ValueError(
            f"--init-from {args.init_from}: vocab {init.vocab_size} != tokenizer's {vocab}"
        )
    return init


def _parser() -> argparse.ArgumentParser:
    """The command line of :func:`main`."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    for size in ("hidden", "layers", "ffn"):
        default = getattr(TargetConfig, size)  # the dataclass default
        ap.add_argument(
            f"--{size}", type=int, default=None, help=f"default {default} (or --init-from's)"
        )
    ap.add_argument("--caption-frac", type=float, default=0.5)
    ap.add_argument(
        "--vqa-response",
        choices=sorted(VQA_RESPONSES),
        default="word",
        help="trained VQA response: the answer word, a description then the word (reasoned, "
        "restated), or an object list, the key or the marked objects again, the word (keyed, "
        "marked, flagged; flagged-lookup flags colour and shape questions only, flagged-axis is "
        "an experimental variant: data.py)",
    )
    ap.add_argument("--ckpt-every-s", type=float, default=180)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-n", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--aux-shape", type=float, default=0.0, help="weight of the shape-probe loss")
    ap.add_argument("--aux-color", type=float, default=0.0, help="weight of the colour-probe loss")
    ap.add_argument(
        "--answer-weight",
        type=float,
        default=1.0,
        help="loss weight of the answer word after a reasoned VQA description (others 1)",
    )
    ap.add_argument(
        "--phases",
        default="",
        help='settings changed at given steps, "START:key=value,...;..." (keys: horizon, '
        "origin, lr, warmup, aux_shape, aux_color, caption_frac, vqa_response); the flags "
        "set phase 0, whose cosine reaches zero at --steps",
    )
    ap.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start from the target in this shapes weights folder (fine-tuning) instead of "
        "a random init; the shape probe starts fresh",
    )
    ap.add_argument(
        "--bf16", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast"
    )
    return ap


def _batch_loss(
    model: ShapesVLM, batch: dict, cfg_step: Settings, args: argparse.Namespace
) -> torch.Tensor:
    """The weighted next-token loss of one batch plus the weighted probe losses."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        fmap = model.encoder.feature_map(batch["images"])
        tok_emb = model.lm.get_input_embeddings()(batch["ids"])
        embeds = torch.cat([model.encoder.tokens(fmap).to(tok_emb.dtype), tok_emb], dim=1)
        logits = model.lm(inputs_embeds=embeds).logits
        probes = [
            (w, probe(fmap), batch[target])
            for w, probe, target in (
                (cfg_step.aux_shape, model.aux_shape, "shape_map"),
                (cfg_step.aux_color, model.aux_color, "color_map"),
            )
            if w > 0
        ]
    loss = weighted_loss(logits.float(), batch["labels"], batch["answer_pos"], args.answer_weight)
    for w, pred, target in probes:
        loss = loss + w * torch.nn.functional.cross_entropy(pred.float(), target)
    return loss


def _checkpoint_meta(
    step: int, elapsed_s: float, cfg: TargetConfig, args: argparse.Namespace
) -> dict:
    """What a checkpoint records beside the weights (resume reads step and elapsed_s)."""
    return {
        "step": step,
        "elapsed_s": elapsed_s,
        "config": cfg.to_dict(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    base = Settings(
        horizon=args.steps, origin=0, lr=args.lr, warmup=args.warmup, aux_shape=args.aux_shape,
        aux_color=args.aux_color, caption_frac=args.caption_frac, vqa_response=args.vqa_response,
    )  # fmt: skip
    try:
        phases = parse_phases(args.phases, {"vqa_response": tuple(VQA_RESPONSES)})
        check_phases(base, phases, args.steps)
    except ValueError as e:
        ap.error(str(e))
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    init = load_target(args.init_from)[0] if args.init_from is not None else None
    cfg = _config(args, len(tok), init.config if init is not None else None)
    torch.manual_seed(args.seed)
    model = ShapesVLM(cfg)
    if init is not None:
        model.load_state_dict(init.state_dict(), strict=False)  # the probe keeps its init
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
    ckpt = args.out / "ckpt"
    meta = load_checkpoint(ckpt, model, opt)
    step, elapsed = (meta["step"], meta["elapsed_s"]) if meta else (0, 0.0)
    log = (args.out / "log.jsonl").open("a")
    print(
        f"params {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M start step {step}",
        flush=True,
    )
    t0, last_ckpt = time.time() - elapsed, time.time()
    model.train()
    current = None
    while step < args.steps:
        cfg_step = settings_at(step, base, phases)
        if cfg_step != current:
            print(f"step {step}: {cfg_step}", flush=True)
            current = cfg_step
        rng = np.random.default_rng([args.seed, step])
        examples = [
            sample_example(rng, cfg_step.caption_frac, cfg_step.vqa_response)
            for _ in range(args.batch)
        ]
        batch = collate(tok, examples, model.prefix_len)
        loss = _batch_loss(model, batch, cfg_step, args)
        optimizer_step(opt, loss, model.parameters(), cfg_step.lr_at(step))
        step += 1
        rec = {"step": step, "loss": round(loss.item(), 5), "t": round(time.time() - t0, 1)}
        if step % args.eval_every == 0 or step == args.steps:
            rec.update(evaluate(model, tok, args.eval_n))
        if step % 10 == 0 or "vqa_acc" in rec:
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if time.time() - last_ckpt > args.ckpt_every_s or step == args.steps:
            save_checkpoint(ckpt, model, opt, _checkpoint_meta(step, time.time() - t0, cfg, args))
            last_ckpt = time.time()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the shapes teacher generator (rectified flow, velocity target, CFG condition dropout).

Run (seeded, resumable: rerun the same command to continue from the last checkpoint)::

    python -m hbench.baselines.shapes.training.generator.train --out /work/train-logs/gen-teacher

The EMA weights are exported as fp16 safetensors to ``baselines/shapes/weights`` with a
manifest entry (sha256, command, git revision, date, wall time, metrics).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from hbench.baselines.runtime.flow import shift_times
from hbench.baselines.runtime.train_step import optimizer_step
from hbench.baselines.shapes.generator.network import GeneratorConfig, ShapesDenoiser
from hbench.baselines.shapes.generator.tokens import WordTokenizer
from hbench.baselines.shapes.generator.weights import WEIGHTS_DIR, save_weights

from .checkpoint import ema_update, load_state, save_state
from .data import make_batch, parse_tag_weights

TEACHER_NAME = "generator_teacher"


def drop_conditions(
    texts: list[str], source: torch.Tensor, is_edit: torch.Tensor, g: torch.Generator, p: float
) -> tuple[list[str], torch.Tensor]:
    """Classifier-free-guidance dropout.

    T2I rows lose the prompt with probability ``p``. Edit rows (InstructPix2Pix): text only,
    image only, or both dropped, each with probability ``p / 2``.
    """
    u = torch.rand(len(texts), generator=g)
    drop_text = torch.where(is_edit, (u < p / 2) | ((u >= p) & (u < 1.5 * p)), u < p)
    drop_img = is_edit & (u >= p / 2) & (u < 1.5 * p)
    texts = ["" if d else s for s, d in zip(texts, drop_text.tolist(), strict=True)]
    source = torch.where(drop_img[:, None, None, None], torch.zeros_like(source), source)
    return texts, source


def sample_t(n: int, g: torch.Generator, shift: float = 1.0) -> torch.Tensor:
    """Logit-normal times (SD3), 10% uniform so the ends are not starved.

    ``shift`` > 1 maps the draws through the sampler's timestep shift
    (``s*t / (1 + (s-1)*t)``), moving training towards high noise, where the sampler
    spends most of its steps and where layout and colour binding are decided (SD3 shifts
    its training times the same way). The random draws do not depend on ``shift``.
    """
    t = torch.sigmoid(torch.randn(n, generator=g))
    uni = torch.rand(n, generator=g)
    t = torch.where(torch.rand(n, generator=g) < 0.1, uni, t)
    return shift_times(t, shift)


def lr_at(
    step: int,
    total: int,
    base: float,
    warmup: int = 100,
    decay_at: int | None = None,
    end: int | None = None,
) -> float:
    """Linear warm-up, cosine towards 5% of ``base`` over ``total`` steps.

    With ``decay_at``/``end`` the cosine is cut short: from ``decay_at`` the rate falls
    linearly to 5% of ``base`` at ``end`` (training stops at ``end``). Steps before
    ``decay_at`` get exactly the rates of the plain schedule, so a run can be shortened
    after it started without changing its past.
    """
    if step < warmup:
        return base * (step + 1) / warmup
    if decay_at is not None and end is not None and step >= decay_at:
        start = lr_at(decay_at, total, base, warmup)
        frac = (step - decay_at) / max(1, end - decay_at)
        return start + (0.05 * base - start) * frac
    frac = (step - warmup) / max(1, total - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m hbench.baselines.shapes.training.generator.train")
    ap.add_argument("--out", type=Path, required=True, help="checkpoint + log directory")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--drop", type=float, default=0.1, help="condition dropout probability")
    ap.add_argument(
        "--t-shift", type=float, default=1.0, help="timestep shift of the training times (> 0)"
    )
    ap.add_argument("--decay-at", type=int, default=None, help="start a linear LR decay here")
    ap.add_argument("--end", type=int, default=None, help="stop here (with --decay-at)")
    ap.add_argument("--ckpt-every", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--channels", default="32,64,128", help="UNet widths (tests use 8,16,32)")
    ap.add_argument("--text-dim", type=int, default=128)
    ap.add_argument(
        "--pos-queries",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="learned 2-D positions on the attention queries (GeneratorConfig.pos_queries)",
    )
    ap.add_argument(
        "--tag-weights",
        default="",
        help='T2I tag shares, "counting=0.25,colors=0.05,..." over data.TAG_WEIGHTS (renormalised)',
    )
    ap.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--no-export", action="store_true", help="do not write shipped weights")
    ap.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start a new stage from a finished stage's state file (model + EMA; fresh optimizer)",
    )
    args = ap.parse_args(argv)
    if args.t_shift <= 0:
        ap.error(f"--t-shift must be > 0, got {args.t_shift}")
    try:
        args.tag_weight_map = parse_tag_weights(args.tag_weights) if args.tag_weights else None
    except ValueError as e:
        ap.error(f"--tag-weights: {e}")
    return args


def _init_from(path: Path, model: ShapesDenoiser, ema: ShapesDenoiser) -> dict:
    """Load a finished stage's model and EMA; returns its provenance for the new entry."""
    init = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in init.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in init.items() if k.startswith("ema.")})
    prev_meta = json.loads(path.with_suffix(".json").read_text())
    return {
        "init_from": str(path),
        "init_step": prev_meta["step"],
        "init_train_seconds": round(prev_meta["elapsed_s"], 1),
    }


def _step_loss(
    step: int, args: argparse.Namespace, model: ShapesDenoiser, tok: WordTokenizer
) -> torch.Tensor:
    """The flow-matching loss of one step's batch (conditions dropped, times shifted)."""
    # Per-step seeding: a resumed run draws exactly the batches an uninterrupted one would.
    rng = np.random.default_rng([args.seed, step])
    g = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
    batch = make_batch(rng, args.batch, tag_weights=args.tag_weight_map)
    texts, source = drop_conditions(batch.texts, batch.source, batch.is_edit, g, args.drop)
    noise = torch.randn(batch.target.shape, generator=g)
    t = sample_t(args.batch, g, args.t_shift)
    tb = t[:, None, None, None]
    x_t = (1 - tb) * batch.target + tb * noise
    loss = F.mse_loss(model(x_t, t, source, tok.batch(texts)), noise - batch.target)
    return loss


def main(argv: list[str] | None = None) -> int:
    """Train (or resume) the teacher; export EMA weights when done."""
    args = parse(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    tok = WordTokenizer()
    cfg = GeneratorConfig(
        vocab_size=tok.size,
        channels=tuple(int(c) for c in args.channels.split(",")),  # type: ignore[arg-type]
        text_dim=args.text_dim,
        pos_queries=args.pos_queries,
    )
    model = ShapesDenoiser(cfg)
    ema = ShapesDenoiser(cfg)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    ckpt = args.out / "state.safetensors"
    start, elapsed = 0, 0.0
    previous = _init_from(args.init_from, model, ema) if args.init_from is not None else {}
    if ckpt.exists():
        meta = load_state(ckpt, model, ema, opt)
        start, elapsed = meta["step"], meta["elapsed_s"]
        print(f"resumed at step {start} ({elapsed:.0f} s so far)", flush=True)
    log = open(args.out / "log.jsonl", "a")
    t_run, losses = time.time() - elapsed, []
    last = args.end if args.end is not None else args.steps
    lr = lambda step: lr_at(step, args.steps, args.lr, decay_at=args.decay_at, end=args.end)  # noqa: E731
    for step in range(start, last):
        loss = _step_loss(step, args, model, tok)
        optimizer_step(opt, loss, model.parameters(), lr(step))
        ema_update(ema, model, step, args.ema)
        losses.append(loss.item())
        done = step + 1
        if done % 25 == 0 or done == last:
            rec = {
                "step": done,
                "loss": float(np.mean(losses)),
                "lr": lr(step),
                "elapsed_s": round(time.time() - t_run, 1),
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(rec, flush=True)
            losses = []
        if done % args.ckpt_every == 0 or done == last:
            save_state(
                ckpt,
                model,
                ema,
                opt,
                done,
                {"elapsed_s": time.time() - t_run, "config": cfg.to_dict()},
            )
    wall = time.time() - t_run
    if not args.no_export:
        cmd = "python -m hbench.baselines.shapes.training.generator.train " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        entry = {
            "role": "teacher",
            "config": cfg.to_dict(),
            "command": cmd,
            "train_seconds": round(wall, 1),
            "steps": last,
            "batch": args.batch,
            "seed": args.seed,
            "metrics": {},
            **previous,
        }
        path = save_weights(ema.state_dict(), TEACHER_NAME, entry, args.weights_dir)
        print(f"exported {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

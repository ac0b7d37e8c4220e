"""Distil the shapes teacher into few-step students (guidance distilled in: one row per step).

Stages (seeded, resumable: rerun the same command to continue from the last checkpoint)::

    python -m hbench.baselines.shapes.training.generator.distill --stage nfe6 --out /work/train-logs/gen-nfe6
    python -m hbench.baselines.shapes.training.generator.distill --stage nfe1 --out /work/train-logs/gen-nfe1

* ``nfe6``: trajectory-segment distillation on the student's own rollouts. Each step picks
  a segment ``[t_k, t_k+1]`` of the 6-step shifted grid, rolls the student (no grad) from
  noise to ``t_k``, lets the teacher integrate that segment with ``--substeps`` Euler steps
  of its CFG velocity (text 4 for T2I, text 4 + image 2 for editing, BAGEL-style), and
  regresses the student's single velocity onto the segment's mean velocity. On-policy
  starts avoid the drift of teacher forcing (calibration note).
* ``nfe1``: the 1-step student (started from the 6-step weights) regresses its one-shot
  output onto a target sample from the same noise and condition: with ``--targets nfe6``
  (progressive distillation, the shipped recipe) the 6-step student's output, drawn fresh
  every step; with ``--targets teacher`` a pool of ``--pairs`` teacher trajectories drawn
  once with the full baseline sampler (:mod:`.pairs`). ``--palette-weight`` adds the
  per-pixel palette classification term of :mod:`.palette_loss` against blurry colours
  (measured worse; see the generator README). ``--adv-weight`` adds the adversarial term
  of :mod:`.adversarial`: a conditional discriminator trained against exact renders of
  the batch's scenes (Hyper-Bagel's 1-NFE stage is adversarially distilled).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hbench.baselines.runtime.flow import FlowSchedule, sample_euler
from hbench.baselines.runtime.train_step import optimizer_step
from hbench.baselines.shapes.generator.engines import (
    BATCHED_EDIT,
    BATCHED_T2I,
    SPECS,
    _BranchVelocity,
)
from hbench.baselines.shapes.generator.network import GeneratorConfig, ShapesDenoiser
from hbench.baselines.shapes.generator.tokens import WordTokenizer
from hbench.baselines.shapes.generator.weights import WEIGHTS_DIR, load_verified, save_weights

from .adversarial import AdversarialTerm
from .checkpoint import ema_update, load_state, save_state
from .data import make_batch
from .pairs import teacher_pairs
from .palette_loss import palette_loss

STUDENT_GRID = FlowSchedule(7, 3.0)


def load_net(name: str, weights_dir: Path) -> tuple[ShapesDenoiser, dict]:
    """A float32 denoiser from verified shipped weights."""
    state, entry = load_verified(name, weights_dir)
    net = ShapesDenoiser(GeneratorConfig.from_dict(entry["config"]))
    net.load_state_dict(state)
    return net, entry


@torch.no_grad()
def rollout(
    net: ShapesDenoiser, x: torch.Tensor, source: torch.Tensor, ctx, times: list[float]
) -> torch.Tensor:
    """Plain (unguided) Euler along ``times`` with the student."""
    for t, t_next in zip(times[:-1], times[1:], strict=True):
        tt = torch.full((x.shape[0],), t)
        x = x - (t - t_next) * net(x, tt, source, text=ctx)
    return x


@torch.no_grad()
def teacher_segment(
    teacher: ShapesDenoiser, x: torch.Tensor, source: torch.Tensor, is_edit: torch.Tensor,
    tokens: torch.Tensor, t0: float, t1: float, substeps: int,
) -> torch.Tensor:  # fmt: skip
    """Teacher CFG Euler from ``t0`` to ``t1`` in ``substeps`` steps (T2I and edit rows apart)."""
    # Substeps are uniform in the unshifted variable, as the teacher's own grid is.
    u0, u1 = _unshift(t0), _unshift(t1)
    u = torch.linspace(u0, u1, substeps + 1, dtype=torch.float64)
    times = (3.0 * u / (1.0 + 2.0 * u)).tolist()
    out = torch.empty_like(x)
    # The teacher's guidance, branches batched: same velocities, faster data.
    for rows, guidance in ((~is_edit, BATCHED_T2I), (is_edit, BATCHED_EDIT)):
        idx = rows.nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        text = teacher.encode_text(tokens[idx])
        model = _BranchVelocity(teacher, text, tokens[idx], source[idx])
        sched = _Explicit(times)
        out[idx] = sample_euler(model, x[idx], sched, guidance)  # type: ignore[arg-type]
    return out


class _Explicit(FlowSchedule):
    """A schedule with given times (a sub-segment of the teacher's grid)."""

    def __init__(self, times: list[float]) -> None:
        object.__setattr__(self, "num_timesteps", len(times))
        object.__setattr__(self, "shift", 3.0)
        object.__setattr__(self, "_times", times)

    def times(self) -> torch.Tensor:
        return torch.tensor(self._times, dtype=torch.float64)


def _unshift(t: float, shift: float = 3.0) -> float:
    return t / (shift - (shift - 1.0) * t)


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m hbench.baselines.shapes.training.generator.distill"
    )
    ap.add_argument("--stage", choices=("nfe6", "nfe1"), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument(
        "--substeps", type=int, default=4, help="teacher Euler steps per segment (nfe6)"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR)
    ap.add_argument("--targets", choices=("nfe6", "teacher"), default="nfe6", help="nfe1 only")
    ap.add_argument("--pairs", type=int, default=2048, help="teacher pairs (--targets teacher)")
    ap.add_argument("--pair-chunk", type=int, default=64, help="teacher pairs drawn per batch")
    ap.add_argument("--palette-weight", type=float, default=0.0, help="nfe1 only")
    ap.add_argument(
        "--adv-weight", type=float, default=0.0,
        help="nfe1 only: adversarial term, times the adaptive (gradient-norm) weight",
    )  # fmt: skip
    ap.add_argument("--adv-start", type=int, default=100, help="first step of the G term")
    ap.add_argument("--d-lr", type=float, default=2e-4, help="discriminator learning rate")
    ap.add_argument(
        "--d-mismatched", action="store_true",
        help="also show the discriminator real images under another row's prompt, as fakes",
    )  # fmt: skip
    args = ap.parse_args(argv)
    nfe1_only = args.targets != "nfe6" or args.palette_weight > 0 or args.adv_weight > 0
    if args.stage != "nfe1" and nfe1_only:
        ap.error("--targets teacher, --palette-weight and --adv-weight apply to --stage nfe1 only")
    if args.adv_weight > 0 and args.targets != "nfe6":
        ap.error("--adv-weight needs --targets nfe6 (its real images are the batch's renders)")
    return args


def _nets(args: argparse.Namespace):
    """The teacher, the student and its EMA (both from the teacher), and for ``--targets
    teacher`` the pool of teacher pairs (then the teacher is the base sampler)."""
    source_name = "generator_teacher" if args.stage == "nfe6" else "generator_nfe6"
    teacher, t_entry = load_net(source_name, args.weights_dir)
    teacher.eval().requires_grad_(False)
    cfg = GeneratorConfig.from_dict(t_entry["config"])
    student, ema = ShapesDenoiser(cfg), ShapesDenoiser(cfg)
    student.load_state_dict(teacher.state_dict())
    ema.load_state_dict(teacher.state_dict())
    pool = None
    if args.stage == "nfe1" and args.targets == "teacher":
        base, base_entry = load_net("generator_teacher", args.weights_dir)
        base.eval().requires_grad_(False)
        steps = SPECS["teacher"].t2i_schedule.steps  # the baseline sampler's whole grid

        def sample(noise, source, is_edit, tokens):
            return teacher_segment(base, noise, source, is_edit, tokens, 1.0, 0.0, steps)

        pool = teacher_pairs(
            sample, args.out / "pairs.safetensors", args.pairs, args.seed, args.pair_chunk
        )
        teacher = base  # the 1-step student learns the teacher's trajectories
        source_name, t_entry = "generator_teacher", base_entry
    return teacher, source_name, t_entry, cfg, student, ema, pool


def _step_inputs(step: int, args: argparse.Namespace, pool, tok, student, teacher, grid):
    """One step's batch, conditions, noise and the student's input, time and target velocity:
    from the pair pool, the teacher's segment after the student's rollout (nfe6) or the
    teacher's whole rollout (nfe1). ``batch`` is None with a pool, ``t_ctx`` outside nfe1."""
    batch, t_ctx = None, None
    rng = np.random.default_rng([args.seed, step])
    g = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
    if pool is not None:
        idx = torch.from_numpy(rng.choice(args.pairs, args.batch, replace=False))
        source, tokens = pool["source"][idx], pool["tokens"][idx]
        noise, x0 = pool["noise"][idx], pool["x0"][idx]
    else:
        batch = make_batch(rng, args.batch)
        source, tokens = batch.source, tok.batch(batch.texts)
        noise = torch.randn(batch.target.shape, generator=g)
    student.eval()
    with torch.no_grad():
        s_ctx = student.encode_text(tokens)
    if pool is not None:
        target_v = noise - x0
        x_in, t_in = noise, 1.0
    elif args.stage == "nfe6":
        k = step % STUDENT_GRID.steps
        x_k = rollout(student, noise, source, s_ctx, grid[: k + 1])
        t0, t1 = grid[k], grid[k + 1]
        x_next = teacher_segment(teacher, x_k, source, batch.is_edit, tokens, t0, t1, args.substeps)
        target_v = (x_k - x_next) / (t0 - t1)
        x_in, t_in = x_k, t0
    else:
        with torch.no_grad():
            t_ctx = teacher.encode_text(tokens)
            x0 = rollout(teacher, noise, source, t_ctx, grid)
        target_v = noise - x0
        x_in, t_in = noise, 1.0
    return batch, source, tokens, noise, x_in, t_in, target_v, t_ctx


def _export(args, argv, cfg, ema, source_name: str, t_entry: dict, wall: float) -> None:
    """Save the EMA weights with their provenance entry."""
    entry = {"role": args.stage, "config": cfg.to_dict(),
             "command": "python -m hbench.baselines.shapes.training.generator.distill " + " ".join(argv),
             "train_seconds": round(wall, 1), "steps": args.steps, "batch": args.batch, "seed": args.seed,
             "distilled_from": {"file": source_name + ".safetensors", "sha256": t_entry["sha256"]},
             "metrics": {}}  # fmt: skip
    path = save_weights(ema.state_dict(), f"generator_{args.stage}", entry, args.weights_dir)
    print(f"exported {path}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) one distillation stage and export the student's EMA weights."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    tok = WordTokenizer()
    teacher, source_name, t_entry, cfg, student, ema, pool = _nets(args)
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=0.0)
    ckpt = args.out / "state.safetensors"
    adv = None  # built only when asked for: no discriminator, RNG draw or file otherwise
    if args.adv_weight > 0:
        adv = AdversarialTerm(
            cfg.text_dim, args.adv_weight, args.adv_start, args.d_lr, mismatched=args.d_mismatched
        )
    disc_ckpt = args.out / "disc.safetensors"
    start, elapsed = 0, 0.0
    if ckpt.exists():
        meta = load_state(ckpt, student, ema, opt)
        start, elapsed = meta["step"], meta["elapsed_s"]
        if adv is not None:
            load_state(disc_ckpt, adv.disc, None, adv.opt)
        print(f"resumed at step {start}", flush=True)
    grid = STUDENT_GRID.times().tolist()
    log = open(args.out / "log.jsonl", "a")
    t_run, losses = time.time() - elapsed, []
    for step in range(start, args.steps):
        batch, source, tokens, noise, x_in, t_in, target_v, t_ctx = _step_inputs(
            step, args, pool, tok, student, teacher, grid
        )
        student.train()
        pred = student(x_in, torch.full((args.batch,), t_in), source, tokens)
        loss = F.mse_loss(pred, target_v)
        if args.palette_weight > 0:  # one step from t=1: the sample is noise - velocity
            loss = loss + args.palette_weight * palette_loss(noise - pred, noise - target_v)
        rec_loss = loss.detach()
        if adv is not None:  # nfe1 from noise: the sample is noise - velocity
            fake, cond = noise - pred, t_ctx.pooled
            adv.discriminator_step(batch.target, fake, source, cond)
            loss = loss + adv.generator_term(loss, fake, source, cond, student.out.weight, step)
        lr = args.lr * (1.0 - 0.9 * step / max(1, args.steps))  # linear decay to 10% of base
        optimizer_step(opt, loss, student.parameters(), lr)
        ema_update(ema, student, step, args.ema)
        losses.append(rec_loss.item())
        done = step + 1
        if done % 10 == 0 or done == args.steps:
            rec = {
                "step": done,
                "loss": float(np.mean(losses)),
                **(adv.last if adv is not None else {}),
                "elapsed_s": round(time.time() - t_run, 1),
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(rec, flush=True)
            losses = []
        if done % args.ckpt_every == 0 or done == args.steps:
            if adv is not None:  # before the student's state, which marks the step done
                save_state(disc_ckpt, adv.disc, None, adv.opt, done, {})
            save_state(
                ckpt,
                student,
                ema,
                opt,
                done,
                {"elapsed_s": time.time() - t_run, "config": cfg.to_dict()},
            )
    _export(args, argv, cfg, ema, source_name, t_entry, time.time() - t_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Distil a small draft model from a local Llama target (resumable, seeded).

    nice -n 19 python -m hbench.baselines.hf.train_draft --model DIR --data WORK_OF_TRAIN_HEAD \\
        --work WORKDIR --layers 4 --export DRAFT.safetensors

The draft is the target's first ``--layers`` decoder layers, its final norm and its tied LM
head (:func:`~.draft_model.trim`). It trains on the data :mod:`.train_head` made (the
target's own greedy responses, ``DATA/data/*.safetensors``, and the target's teacher-forced
greedy next token at every position, ``DATA/features.safetensors``): cross-entropy towards
the target's greedy token at every response position, over the vocabulary the target
produced in the data (a reduced softmax, as for the head; decoding uses the full LM head).
The layers and the norm train; the embedding table (= the tied LM head) stays the target's,
so the shipped file holds only the draft's own weights (:func:`~.draft_model.save_trimmed`).
The held-out rows are :mod:`.train_head`'s (same seed, same split).

``--survey 1,2,3,4`` only prints, for each layer count, the untrained draft's held-out top-1
agreement with the target (full vocabulary) and its parameters per drafted token.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open

from hbench.baselines.shapes.training.understanding.checkpoint import (
    load_checkpoint,
    save_checkpoint,
)

from .draft_model import EMBED_KEY, save_trimmed, trim
from .engine import load_model
from .train_head import _log, load_data


def split(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out and training rows, exactly as :mod:`.train_head` splits them."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, n // 20)
    return perm[:n_val], perm[n_val:]


def _batch_loss(draft, data, greedy, idx, w_sub=None, remap=None) -> tuple[torch.Tensor, float]:
    """Cross-entropy (reduced softmax when ``w_sub`` is given) and full-vocabulary top-1
    agreement with the target's greedy token on the response positions of rows ``idx``."""
    lengths, plen = data["lengths"][idx], data["prompt_lengths"][idx]
    t = int(lengths.max())
    ids = data["ids"][idx, :t]
    hidden = draft.model(input_ids=ids, use_cache=False).last_hidden_state
    pos = torch.arange(t)[None]
    # position p predicts token p + 1; drafting happens from the last prompt position on
    valid = (pos >= plen[:, None] - 1) & (pos < lengths[:, None] - 1)
    h, tgt = hidden[valid], greedy[idx, :t][valid].long()
    if w_sub is None:
        logits = draft.lm_head(h)
        return F.cross_entropy(logits, tgt), float((logits.argmax(-1) == tgt).float().mean())
    logits = F.linear(h, w_sub)
    return F.cross_entropy(logits, remap[tgt]), float("nan")


@torch.no_grad()
def agreement(draft, data, greedy, rows: torch.Tensor, batch: int = 8) -> float:
    """Held-out top-1 agreement (full vocabulary), pooled over response positions."""
    hits = total = 0
    for s in range(0, len(rows), batch):
        idx = rows[s : s + batch]
        lengths, plen = data["lengths"][idx], data["prompt_lengths"][idx]
        n = int(((lengths - plen).clamp(min=0)).sum())
        _, acc = _batch_loss(draft, data, greedy, idx)
        hits += acc * n
        total += n
    return hits / max(total, 1)


def survey(model, data, greedy, layers: list[int], seed: int) -> None:
    """Untrained agreement and size for each layer count (the trade-off, before training)."""
    val, _ = split(data["ids"].shape[0], seed)
    target_params = sum(p.numel() for p in model.parameters())
    for n in layers:
        draft = trim(model, n)
        own = sum(p.numel() for k, p in draft.named_parameters() if k != EMBED_KEY)
        cost = own + draft.lm_head.weight.numel()  # multiply-adds per drafted token
        print(json.dumps({
            "layers": n, "val_top1_untrained": round(agreement(draft, data, greedy, val), 4),
            "own_params": own, "macs_per_token_vs_target": round(cost / target_params, 3),
        }), flush=True)  # fmt: skip


def train(model, data, greedy, work: Path, args: argparse.Namespace):
    """Resumable training; returns the draft (fp32)."""
    val, tr = split(data["ids"].shape[0], args.seed)
    vocab = torch.unique(greedy[greedy >= 0].long())
    remap = torch.full((model.config.vocab_size,), -100, dtype=torch.long)
    remap[vocab] = torch.arange(len(vocab))
    torch.manual_seed(args.seed)
    draft = trim(model, args.layers).train()
    draft.get_input_embeddings().weight.requires_grad_(False)  # the target's, shipped with it
    w_sub = draft.get_input_embeddings().weight[vocab].detach()
    params = [p for p in draft.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    meta = load_checkpoint(work / "ckpt", draft, opt)
    step, elapsed = (meta["step"], meta["elapsed_s"]) if meta else (0, 0.0)
    t0, last = time.time() - elapsed, time.time()
    _log(work, {"stage": "train", "layers": args.layers, "vocab": len(vocab), "from_step": step})
    while step < args.steps and time.time() - t0 < args.train_minutes * 60:
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        idx = tr[torch.randint(len(tr), (args.batch,), generator=g)]
        warm = min(1.0, (step + 1) / 10)
        lr = args.lr * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.steps)))
        for grp in opt.param_groups:
            grp["lr"] = lr
        loss, _ = _batch_loss(draft, data, greedy, idx, w_sub, remap)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        rec = {"stage": "train", "step": step, "loss": round(loss.item(), 3)}
        rec["t"] = round(time.time() - t0, 1)
        if step % 50 == 0:
            draft.eval()
            rec["val_top1"] = round(agreement(draft, data, greedy, val), 4)
            draft.train()
        _log(work, rec)
        if time.time() - last > args.ckpt_every_s:
            save_checkpoint(
                work / "ckpt", draft, opt, {"step": step, "elapsed_s": time.time() - t0}
            )
            last = time.time()
    save_checkpoint(work / "ckpt", draft, opt, {"step": step, "elapsed_s": time.time() - t0})
    return draft.eval()


def export(draft, model, data, greedy, work: Path, args: argparse.Namespace) -> None:
    """fp16 trimmed draft + manifest with the held-out agreement of exactly the shipped weights."""
    from .draft_model import load_trimmed

    args.export.parent.mkdir(parents=True, exist_ok=True)
    save_trimmed(draft, args.export)
    shipped = load_trimmed(args.export, model)  # fp16 weights back in the target's dtype
    val, _ = split(data["ids"].shape[0], args.seed)
    untrained = agreement(trim(model, args.layers), data, greedy, val)
    acc = agreement(shipped, data, greedy, val)
    ckpt = json.loads((work / "ckpt.json").read_text())
    resp = data["lengths"] - data["prompt_lengths"]
    manifest = {
        "kind": "trimmed-draft",
        "file": args.export.name,
        "sha256": hashlib.sha256(args.export.read_bytes()).hexdigest(),
        "bytes": args.export.stat().st_size,
        "dtype": "float16",
        "layers": args.layers,
        "own_params": sum(
            v.numel()
            for k, v in draft.state_dict().items()
            if k not in (EMBED_KEY, "lm_head.weight")
        ),  # fmt: skip
        "embedding": "the target's (tied LM head), taken from the target at load time",
        "target": str(args.model),
        "training_command": args.command,
        "train_steps": ckpt["step"],
        "train_seconds": round(ckpt["elapsed_s"], 1),
        "data": {
            "source": f"{args.data}: hbench.baselines.hf.train_head's data (the target's greedy "
            "responses, chat template, to the train part of hbench.baselines.hf.prompts."
            "prompt_split) and its teacher-forced greedy next tokens",
            "sequences": int(data["ids"].shape[0]),
            "response_tokens": int(resp.sum()),
            "val_rows": len(val),
            "split": f"train_head's (seed {args.seed})",
        },
        "metrics": {
            "val_top1_agreement": round(acc, 4),
            "val_top1_agreement_untrained": round(untrained, 4),
        },
    }
    args.export.with_suffix(".json").write_text(json.dumps(manifest, indent=1) + "\n")
    _log(work, {"stage": "export", "path": str(args.export), "metrics": manifest["metrics"]})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="target save_pretrained folder")
    ap.add_argument("--data", type=Path, required=True, help="train_head's work dir (its data)")
    ap.add_argument("--work", type=Path, help="work dir (ckpt, log); required unless --survey")
    ap.add_argument("--export", type=Path, help="trimmed draft .safetensors to write when done")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--survey", default="", help="comma list of layer counts: measure, no training")
    ap.add_argument("--train-minutes", type=float, default=12.0)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every-s", type=float, default=60.0)
    args = ap.parse_args(argv)
    args.command = shlex.join(
        ["python", "-m", "hbench.baselines.hf.train_draft", *(argv or sys.argv[1:])]
    )
    torch.set_num_threads(args.threads)
    model, _, _ = load_model(args.model, "cpu", torch.float32)
    for p in model.parameters():
        p.requires_grad_(False)
    data = load_data(args.data)
    with safe_open(str(args.data / "features.safetensors"), framework="pt") as f:
        greedy = f.get_tensor("greedy")  # the features themselves are not needed
    if args.survey:
        survey(model, data, greedy, [int(x) for x in args.survey.split(",")], args.seed)
        return 0
    if args.work is None:
        ap.error("--work is required unless --survey")
    args.work.mkdir(parents=True, exist_ok=True)
    draft = train(model, data, greedy, args.work, args)
    if args.export:
        export(draft, model, data, greedy, args.work, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

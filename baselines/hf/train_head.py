"""Train an EAGLE-style draft head for a local transformers causal LM (resumable, seeded).

    nice -n 5 python -m hbench.baselines.hf.train_head --model DIR --work WORKDIR \\
        --export HEAD.safetensors

Stages, each resumable (re-run the same command to continue):

1. data: the target's own greedy responses (chat template, ``--max-new`` tokens, batched
   ``generate`` with left padding) to the train part of :func:`~.prompts.prompt_split`;
   one shard per batch in ``WORKDIR/data``; stops starting new batches after
   ``--data-minutes``.
2. features: teacher-forced pass of the target over every ``prompt + response`` sequence:
   its final normed hidden state (fp16; the head's ``feature_layers=(-1,)``, EAGLE-1) and its
   greedy next-token id at every position.
3. train: the head (initialised from the target's last decoder layer and final norm) reads
   the target feature at ``t`` and the embedding of token ``t + 1``, unrolled ``--unroll``
   draft steps on its own outputs with the chain mask the decoder sees (EAGLE-3's
   training-time test, :func:`~hbench.baselines.runtime.eagle_train.unrolled_hidden`), and
   is trained with cross-entropy towards the target's greedy token, over the vocabulary the
   target produced in the data (a reduced softmax; the export stores it as the head's
   ``draft_vocab``, which decoding projects onto: EAGLE-3's draft vocabulary).
   Checkpoints (safetensors + JSON) every ``--ckpt-every-s``; stops after ``--train-minutes``
   of training time or ``--steps``.
4. export: fp16 head safetensors at ``--export`` and ``<export>.json`` (command, data recipe,
   sizes, sha256, held-out top-1 agreement per draft step).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig
from hbench.baselines.runtime.eagle_train import unrolled_hidden
from hbench.baselines.runtime.train_step import optimizer_step, warmup_cosine
from hbench.baselines.shapes.training.understanding.checkpoint import (
    load_checkpoint,
    save_checkpoint,
)

from .engine import load_model, text_prompt
from .prompts import SPLIT_SEED, prompt_split

FEATURE_LAYERS = (-1,)


def _log(work: Path, rec: dict) -> None:
    rec = {"time": time.strftime("%H:%M:%S"), **rec}
    with (work / "log.jsonl").open("a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)


# ---- stage 1: the target's own greedy responses ------------------------------------------
@torch.inference_mode()
def make_data(model, tok, prompts: list[str], work: Path, batch: int, max_new: int, minutes: float):
    """Greedy responses in shards ``data/NNNN.safetensors`` (prompts sorted by length)."""
    out_dir = work / "data"
    out_dir.mkdir(exist_ok=True)
    enc = [text_prompt(tok, p, True, "cpu").input_ids.tolist() for p in prompts]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    t0 = time.time()
    eos = tok.eos_token_id
    for b, s in enumerate(range(0, len(order), batch)):
        shard = out_dir / f"{b:04d}.safetensors"
        if shard.is_file():
            continue
        if time.time() - t0 > minutes * 60:
            _log(work, {"stage": "data", "stopped": "time budget", "next_batch": b})
            break
        idx = order[s : s + batch]
        n = max(len(enc[i]) for i in idx)
        ids = torch.full((len(idx), n), eos, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, i in enumerate(idx):  # left padding: generation continues at the right edge
            ids[r, n - len(enc[i]) :] = torch.tensor(enc[i])
            mask[r, n - len(enc[i]) :] = 1
        t1 = time.time()
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=eos,
        )[:, n:]
        seqs = []
        for r, i in enumerate(idx):
            gen = out[r].tolist()
            gen = gen[: gen.index(eos) + 1] if eos in gen else gen
            seqs.append(enc[i] + gen)
        width = max(len(q) for q in seqs)
        padded = torch.full((len(seqs), width), eos, dtype=torch.long)
        for r, q in enumerate(seqs):
            padded[r, : len(q)] = torch.tensor(q)
        save_file(
            {
                "ids": padded,
                "lengths": torch.tensor([len(q) for q in seqs]),
                "prompt_lengths": torch.tensor([len(enc[i]) for i in idx]),
                "prompt_index": torch.tensor(idx),
            },
            str(shard),
        )
        new = sum(len(q) - len(enc[i]) for q, i in zip(seqs, idx, strict=True))
        _log(
            work, {"stage": "data", "batch": b, "new_tokens": new, "s": round(time.time() - t1, 1)}
        )


def load_data(work: Path) -> dict[str, torch.Tensor]:
    """All data shards as one right-padded batch."""
    shards = [load_file(str(p)) for p in sorted((work / "data").glob("*.safetensors"))]
    if not shards:
        raise FileNotFoundError(f"no data shards in {work / 'data'}")
    width = max(s["ids"].shape[1] for s in shards)
    ids = torch.cat([F.pad(s["ids"], (0, width - s["ids"].shape[1]), value=0) for s in shards])
    keys = ("lengths", "prompt_lengths", "prompt_index")
    return {"ids": ids, **{k: torch.cat([s[k] for s in shards]) for k in keys}}


# ---- stage 2: teacher-forced features ------------------------------------------------------
@torch.inference_mode()
def make_features(model, data: dict[str, torch.Tensor], work: Path, batch: int = 8) -> None:
    """Final normed hidden states (fp16) and greedy next-token ids of every sequence."""
    path = work / "features.safetensors"
    if path.is_file():
        return
    lm_head = model.get_output_embeddings()
    feats, greedy = [], []
    t0 = time.time()
    for s in range(0, data["ids"].shape[0], batch):
        t = int(data["lengths"][s : s + batch].max())
        ids = data["ids"][s : s + batch, :t]
        h = model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state
        feats.append(F.pad(h, (0, 0, 0, data["ids"].shape[1] - t)).half())
        g = lm_head(h).argmax(-1)
        greedy.append(F.pad(g, (0, data["ids"].shape[1] - t)).int())
    save_file({"feats": torch.cat(feats), "greedy": torch.cat(greedy)}, str(path))
    _log(work, {"stage": "features", "rows": data["ids"].shape[0], "s": round(time.time() - t0, 1)})


# ---- stage 3: training ---------------------------------------------------------------------
def new_head(model) -> EagleHead:
    """A head shaped like the target's layers, initialised from its last layer and norm."""
    cfg = EagleHeadConfig.for_target(model.config, feature_layers=FEATURE_LAYERS)
    head = EagleHead(cfg)
    head.layer.load_state_dict(model.get_decoder().layers[-1].state_dict())
    head.norm.load_state_dict(model.get_decoder().norm.state_dict())
    return head


def step_losses(head, embed, w_sub, remap, data, feats, idx, unroll: int, with_acc: bool = False):
    """Per draft step: cross-entropy (and, with ``with_acc``, top-1 agreement) on rows ``idx``."""
    lengths = data["lengths"][idx]
    t = int(lengths.max())
    emb = embed(data["ids"][idx, :t])
    f = feats["feats"][idx, :t].float()
    greedy = feats["greedy"][idx, :t].long()
    base = torch.arange(0, t - 1)
    out = []
    for s, hidden in enumerate(unrolled_hidden(head, f, emb, 0, unroll)):
        logits = F.linear(head.norm(hidden), w_sub)
        tgt = remap[greedy[:, (base + s + 1).clamp(max=t - 1)]]
        valid = (base[None] + s + 2) < lengths[:, None]
        ce = F.cross_entropy(logits[valid], tgt[valid])
        acc = float((logits[valid].argmax(-1) == tgt[valid]).float().mean()) if with_acc else None
        out.append((ce, acc))
    return out


def train(model, data, feats, work: Path, args: argparse.Namespace) -> EagleHead:
    """Resumable training; returns the head (fp32)."""
    for p in model.parameters():
        p.requires_grad_(False)
    n = data["ids"].shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))
    n_val = max(1, n // 20)
    val, tr = perm[:n_val], perm[n_val:]
    vocab = torch.unique(feats["greedy"][feats["greedy"] >= 0].long())
    remap = torch.full((model.config.vocab_size,), -100, dtype=torch.long)
    remap[vocab] = torch.arange(len(vocab))
    w_sub = model.get_output_embeddings().weight[vocab].detach()
    embed = model.get_input_embeddings()
    torch.manual_seed(args.seed)
    head = new_head(model)
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=0.0)
    meta = load_checkpoint(work / "ckpt", head, opt)
    step, elapsed = (meta["step"], meta["elapsed_s"]) if meta else (0, 0.0)
    t0, last = time.time() - elapsed, time.time()
    _log(
        work,
        {"stage": "train", "rows": n, "val_rows": n_val, "vocab": len(vocab), "from_step": step},
    )
    while step < args.steps and time.time() - t0 < args.train_minutes * 60:
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        idx = tr[torch.randint(len(tr), (args.batch,), generator=g)]
        losses = [
            ce for ce, _ in step_losses(head, embed, w_sub, remap, data, feats, idx, args.unroll)
        ]
        loss = sum(losses) / len(losses)
        optimizer_step(opt, loss, head.parameters(), warmup_cosine(step, args.steps, args.lr, 20))
        step += 1
        rec = {"stage": "train", "step": step, "losses": [round(x.item(), 3) for x in losses]}
        rec["t"] = round(time.time() - t0, 1)
        if step % 25 == 0:
            with torch.no_grad():
                accs = step_losses(head, embed, w_sub, remap, data, feats, val, args.unroll, True)
            rec["val_top1"] = [round(a, 3) for _, a in accs]
        _log(work, rec)
        if time.time() - last > args.ckpt_every_s:
            save_checkpoint(work / "ckpt", head, opt, {"step": step, "elapsed_s": time.time() - t0})
            last = time.time()
    save_checkpoint(work / "ckpt", head, opt, {"step": step, "elapsed_s": time.time() - t0})
    return head


# ---- stage 4: export ---------------------------------------------------------------------
def export(head, model, data, feats, work: Path, args: argparse.Namespace, n_prompts: int) -> None:
    """fp16 head + manifest with the held-out agreement of exactly the exported weights."""
    head = head.half().float().eval()
    n = data["ids"].shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))
    val = perm[: max(1, n // 20)]
    vocab = torch.unique(feats["greedy"].long())
    remap = torch.full((model.config.vocab_size,), -100, dtype=torch.long)
    remap[vocab] = torch.arange(len(vocab))
    w_sub = model.get_output_embeddings().weight[vocab].detach()
    with torch.no_grad():
        accs = step_losses(
            head, model.get_input_embeddings(), w_sub, remap, data, feats, val, args.unroll, True
        )
    args.export.parent.mkdir(parents=True, exist_ok=True)
    head.draft_vocab = vocab  # EAGLE-3's draft vocabulary: the ids the reduced softmax covered
    head.half().save(args.export)
    ckpt = json.loads((work / "ckpt.json").read_text())
    digest = hashlib.sha256(args.export.read_bytes()).hexdigest()
    resp = data["lengths"] - data["prompt_lengths"]
    manifest = {
        "kind": "eagle-head",
        "file": args.export.name,
        "sha256": digest,
        "bytes": args.export.stat().st_size,
        "dtype": "float16",
        "params": sum(p.numel() for p in head.parameters()),
        "config": json.loads(json.dumps(head.config.__dict__)),
        "target": str(args.model),
        "training_command": args.command,
        "train_steps": ckpt["step"],
        "train_seconds": round(ckpt["elapsed_s"], 1),
        "data": {
            "source": "greedy responses of the target (chat template) to the train part of "
            "hbench.baselines.hf.prompts.prompt_split (pydoc_data.topics questions and "
            "written instructions)",
            "split_seed": SPLIT_SEED,
            "prompts_available": n_prompts,
            "sequences": n,
            "response_tokens": int(resp.sum()),
            "max_new_tokens": args.max_new,
            "val_rows": len(val),
        },
        "draft_vocab": {"size": len(vocab), "source": "every target greedy token in the data"},
        "metrics": {
            "val_top1_agreement_per_draft_step": [round(a, 4) for _, a in accs],
            "unroll": args.unroll,
        },
    }
    args.export.with_suffix(".json").write_text(json.dumps(manifest, indent=1) + "\n")
    _log(work, {"stage": "export", "path": str(args.export), "val_top1": manifest["metrics"]})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="target save_pretrained folder")
    ap.add_argument("--work", type=Path, required=True, help="work dir (data, ckpt, log)")
    ap.add_argument("--export", type=Path, help="head .safetensors to write when done")
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--gen-batch", type=int, default=16)
    ap.add_argument("--data-minutes", type=float, default=25.0)
    ap.add_argument("--train-minutes", type=float, default=30.0)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--unroll", type=int, default=3)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every-s", type=float, default=120.0)
    args = ap.parse_args(argv)
    args.command = shlex.join(
        ["python", "-m", "hbench.baselines.hf.train_head", *(argv or sys.argv[1:])]
    )
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    model, tok, _ = load_model(args.model, "cpu", torch.float32)
    train_prompts, _ = prompt_split()
    if not (args.work / "features.safetensors").is_file():  # features fix the data set
        make_data(
            model, tok, train_prompts, args.work, args.gen_batch, args.max_new, args.data_minutes
        )
    data = load_data(args.work)
    make_features(model, data, args.work)
    feats = load_file(str(args.work / "features.safetensors"))
    head = train(model, data, feats, args.work, args)
    if args.export:
        export(head, model, data, feats, args.work, args, len(train_prompts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

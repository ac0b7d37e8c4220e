"""Train the EAGLE-style draft head on the target's own greedy outputs (resumable, seeded).

    python -m hbench.baselines.shapes.training.understanding.train_head --out /work/train-logs/understanding/head

Stage 1 (data): greedy answers of the committed target for seeded caption and VQA scenes,
stored as safetensors in ``--out`` (skipped when present). Stage 2 (train): the head reads
the target's last hidden state and the next token's embedding (image positions skipped,
as the runtime's ``EagleHeadDrafter(skip_prefix=True)`` decodes) and is trained towards the
target's next-next-token distribution, unrolled ``--unroll`` draft steps on its own
features with the chain mask the decoder sees (EAGLE-3's training-time test). Stage 3
(export): fp16 safetensors + manifest entry.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig
from hbench.baselines.runtime.eagle_train import chain_mask, unrolled_hidden  # noqa: F401 - re-export
from hbench.baselines.runtime.train_step import optimizer_step, warmup_cosine
from hbench.baselines.shapes.understanding.loading import load_target
from hbench.baselines.shapes.understanding.tokenizer import prompt_ids
from hbench.baselines.shapes.understanding.weights import HEAD_FILE, write_entry
from hbench.harness.provenance import code_revision

from .checkpoint import load_checkpoint, save_checkpoint, training_parser
from .data import caption_example, vqa_example

HEAD_SEED = 5_000_011
FEATURE_LAYERS = (-1,)


@torch.inference_mode()
def make_data(
    model, tok, n_caption: int, n_vqa: int, batch: int = 64, seed: int = HEAD_SEED
) -> dict[str, torch.Tensor]:
    """Greedy target outputs for scenes of seed stream ``seed``; equal-length prompts batched."""
    groups: dict[int, list] = defaultdict(list)
    for i in range(n_caption + n_vqa):
        rng = np.random.default_rng([seed, i])
        ex = caption_example(rng) if i < n_caption else vqa_example(rng)
        p = prompt_ids(tok, ex.prompt)
        groups[len(p)].append((ex.image, p))
    seqs, images = [], []
    for items in groups.values():
        for s in range(0, len(items), batch):
            chunk = items[s : s + batch]
            imgs = torch.from_numpy(np.stack([c[0] for c in chunk]).astype(np.float32) / 127.5 - 1)
            imgs = imgs.permute(0, 3, 1, 2)
            ids = torch.tensor([c[1] for c in chunk])
            emb = model.embed_prompt(imgs, ids)
            out = model.lm.generate(
                inputs_embeds=emb,
                attention_mask=torch.ones(emb.shape[:2], dtype=torch.long),
                max_new_tokens=40,
                do_sample=False,
                eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id,
            )
            for c, o in zip(chunk, out.tolist(), strict=True):
                gen = o[: o.index(tok.eos_token_id) + 1] if tok.eos_token_id in o else o
                seqs.append(c[1] + gen)
                images.append(c[0])
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), tok.pad_token_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
    return {
        "ids": ids,
        "lengths": torch.tensor([len(s) for s in seqs]),
        "images": torch.from_numpy(np.stack(images)),
    }


def unrolled_loss(
    head: EagleHead,
    lm_head,
    feats,
    embeds,
    tlogits,
    lengths,
    start: int,
    steps: int,
    pos_offset: int = 0,
):
    """Per-step soft cross-entropy against the target's distribution of the predicted token."""
    t = feats.shape[1]
    base_pos = torch.arange(start, t - 1, device=feats.device)
    losses = []
    for s, hidden in enumerate(unrolled_hidden(head, feats, embeds, start, steps, pos_offset)):
        logits = head.logits(hidden, lm_head).float()
        tgt_idx = (base_pos + s + 1).clamp(max=t - 1)
        soft = torch.softmax(tlogits[:, tgt_idx].float(), dim=-1)
        valid = (base_pos[None] + s + 2) < lengths[:, None]  # the predicted token exists
        ce = -(soft * torch.log_softmax(logits, dim=-1)).sum(-1)
        losses.append((ce * valid).sum() / valid.sum().clamp(min=1))
    return losses


@torch.inference_mode()
def make_features(model, data: dict[str, torch.Tensor], batch: int = 64) -> dict[str, torch.Tensor]:
    """Target features and logits at the text positions (after the image prefix), fp16."""
    start = model.prefix_len
    lm_head = model.lm.get_output_embeddings()
    feats, logits = [], []
    n, t = data["ids"].shape
    for s in range(0, n, batch):
        ids = data["ids"][s : s + batch]
        imgs = data["images"][s : s + batch].float().permute(0, 3, 1, 2) / 127.5 - 1
        emb = model.embed_prompt(imgs, ids)
        out = model.lm.model(inputs_embeds=emb, output_hidden_states=True)
        f = torch.cat([out.hidden_states[i] for i in FEATURE_LAYERS], dim=-1)[:, start:]
        feats.append(f.half())
        logits.append(lm_head(out.last_hidden_state[:, start:]).half())
    return {"feats": torch.cat(feats), "logits": torch.cat(logits)}


def batch_loss(head, model, data, feats, idx, unroll: int) -> list[torch.Tensor]:
    """Unrolled losses of the rows ``idx`` (text positions only, image prefix skipped)."""
    lengths = data["lengths"][idx]
    t = int(lengths.max())
    ids = data["ids"][idx, :t]
    emb = model.lm.get_input_embeddings()(ids)
    f = feats["feats"][idx, :t].float()
    lg = feats["logits"][idx, :t].float()
    lm_head = model.lm.get_output_embeddings()
    return unrolled_loss(head, lm_head, f, emb, lg, lengths, 0, unroll, model.prefix_len)


@torch.inference_mode()
def agreement(head, model, data, feats, idx, unroll: int) -> list[float]:
    """Per draft step: top-1 agreement of the head with the target's greedy next token."""
    lengths = data["lengths"][idx]
    t = int(lengths.max())
    emb = model.lm.get_input_embeddings()(data["ids"][idx, :t])
    f = feats["feats"][idx, :t].float()
    lg = feats["logits"][idx, :t].float()
    hidden = unrolled_hidden(head, f, emb, 0, unroll, model.prefix_len)
    base = torch.arange(0, t - 1)
    out = []
    for s, h in enumerate(hidden):
        pred = head.logits(h, model.lm.get_output_embeddings()).argmax(-1)
        tgt = lg[:, (base + s + 1).clamp(max=t - 1)].argmax(-1)
        valid = (base[None] + s + 2) < lengths[:, None]
        out.append(float(((pred == tgt) & valid).sum() / valid.sum()))
    return out


def _stage_data(model, tok, args) -> tuple[dict, dict]:
    """Stage 1: the target's own greedy answers; stage 1b: its features on them (cached)."""
    data_path, feat_path = args.out / "data.safetensors", args.out / "features.safetensors"
    if not data_path.is_file():
        t0 = time.time()
        save_file(make_data(model, tok, args.n_caption, args.n_vqa), str(data_path))
        print(f"data: {time.time() - t0:.0f}s", flush=True)
    data = load_file(str(data_path))
    if not feat_path.is_file():
        t0 = time.time()
        save_file(make_features(model, data), str(feat_path))
        print(f"features: {time.time() - t0:.0f}s", flush=True)
    return data, load_file(str(feat_path))


def _stage_export(head, cfg, model, data, feats, val, n_val: int, args) -> list[float]:
    """Stage 3: export fp16 and record the held-out agreement of exactly the exported head."""
    head = head.half().float()
    val_agree = agreement(head, model, data, feats, val, args.unroll)
    head.half().save(args.weights_dir / HEAD_FILE)
    final = json.loads((args.out / "ckpt.json").read_text())
    write_entry(
        args.weights_dir,
        HEAD_FILE,
        {
            "kind": "eagle-head",
            "dtype": "float16",
            "config": json.loads(json.dumps(cfg.__dict__)),
            "params": sum(p.numel() for p in head.parameters()),
            "training_command": args.command,
            "git_revision": code_revision(),
            "train_steps": final["step"],
            "train_seconds": round(final["elapsed_s"], 1),
            "data": {
                "n_caption": args.n_caption,
                "n_vqa": args.n_vqa,
                "seed_stream": HEAD_SEED,
                "source": "greedy outputs of the committed target",
                "val_rows": n_val,
            },
            "metrics": {"val_top1_agreement_per_draft_step": val_agree, "unroll": args.unroll},
        },
    )
    return val_agree


def main(argv: list[str] | None = None) -> int:
    ap = training_parser(__doc__)
    ap.add_argument("--unroll", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    model, tok = load_target(args.weights_dir)
    for p in model.parameters():
        p.requires_grad_(False)
    data, feats = _stage_data(model, tok, args)
    n_rows = data["ids"].shape[0]
    perm = torch.randperm(n_rows, generator=torch.Generator().manual_seed(args.seed))
    n_val = max(1, n_rows // 20)
    val, train = perm[:n_val], perm[n_val:]
    torch.manual_seed(args.seed)
    cfg = EagleHeadConfig.for_target(model.lm.config, feature_layers=FEATURE_LAYERS)
    head = EagleHead(cfg)
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=0.0)
    meta = load_checkpoint(args.out / "ckpt", head, opt)
    step, elapsed = (meta["step"], meta["elapsed_s"]) if meta else (0, 0.0)
    t0, last = time.time() - elapsed, time.time()
    log = (args.out / "log.jsonl").open("a")
    while step < args.steps:  # stage 2
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        idx = train[torch.randint(len(train), (args.batch,), generator=g)]
        losses = batch_loss(head, model, data, feats, idx, args.unroll)
        loss = sum(losses) / len(losses)
        optimizer_step(opt, loss, head.parameters(), warmup_cosine(step, args.steps, args.lr, 50))
        step += 1
        rec = {
            "step": step,
            "losses": [round(x.item(), 4) for x in losses],
            "t": round(time.time() - t0, 1),
        }
        if step % 100 == 0 or step == args.steps:
            rec["val_agreement"] = agreement(head, model, data, feats, val, args.unroll)
        if step % 10 == 0:
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if time.time() - last > args.ckpt_every_s or step == args.steps:
            save_checkpoint(
                args.out / "ckpt", head, opt, {"step": step, "elapsed_s": time.time() - t0}
            )
            last = time.time()
    val_agree = _stage_export(head, cfg, model, data, feats, val, n_val, args)
    print(json.dumps({"val_agreement": val_agree}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Distil a small Llama assistant for transformers' assisted generation (seeded, resumable).

    python -m hbench.baselines.shapes.training.understanding.train_assistant \\
        --out /work/train-logs/understanding/assistant-l1 --layers 1

Stage 1 (data): greedy answers of the committed target for caption and VQA scenes of the
seed stream ``ASSISTANT_SEED`` (``train_head.make_data``), the target's logits on them
(``train_head.make_features``) and its image-prefix embeddings, stored in ``--out``.
Stage 2 (train): the assistant is a ``--layers``-layer Llama of the target's width,
initialised from the target's first layers and final norm; its tied embedding table is the
target's, frozen. It reads the target's image-prefix embeddings (as ``hf_peer`` feeds them
during assisted generation) and is trained with soft cross-entropy to the target's
next-token distribution at the answer positions. Stops at ``--steps`` or ``--max-seconds``;
checkpoints let a stopped run resume. Stage 3 (export): fp16 safetensors + manifest entry
with the held-out top-1 agreement of exactly the exported weights.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time

import torch
from safetensors.torch import load_file, save_file

from hbench.baselines.shapes.understanding.hf_peer import PrefixLlama
from hbench.baselines.shapes.understanding.loading import load_target
from hbench.baselines.shapes.understanding.model import ShapesVLM
from hbench.baselines.shapes.understanding.weights import ASSISTANT_FILE, save_tensors, write_entry
from hbench.harness.provenance import code_revision

from .checkpoint import _dedupe_shared, load_checkpoint, save_checkpoint, training_parser
from .train_head import make_data, make_features

ASSISTANT_SEED = 6_000_029


def build_assistant(model: ShapesVLM, layers: int) -> tuple[PrefixLlama, dict]:
    """A ``layers``-layer assistant initialised from the target, and its config dict.

    The config dict is the target's ``TargetConfig`` with ``layers`` replaced (only the
    decoder fields are used); the embedding table is frozen so it stays the target's.
    """
    if not 1 <= layers <= model.config.layers:
        raise ValueError(f"--layers must be in 1..{model.config.layers}, got {layers}")
    cfg = dataclasses.replace(model.config, layers=layers)
    asst = PrefixLlama(cfg.llama_config())
    keep = {
        k: v.detach().clone()
        for k, v in model.lm.state_dict().items()
        if not k.startswith("model.layers.") or int(k.split(".")[2]) < layers
    }
    missing, unexpected = asst.load_state_dict(keep, strict=False)
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise RuntimeError(f"assistant init: missing {missing}, unexpected {unexpected}")
    asst.tie_weights()
    asst.get_input_embeddings().weight.requires_grad_(False)
    return asst, cfg.to_dict()


@torch.inference_mode()
def make_targets(model: ShapesVLM, data: dict[str, torch.Tensor], sep_id: int) -> dict:
    """Target logits at text positions, image-prefix embeddings and the answer mask."""
    imgs = data["images"].float().permute(0, 3, 1, 2) / 127.5 - 1
    prefix = torch.cat([model.encoder(imgs[s : s + 64]) for s in range(0, len(imgs), 64)])
    ids, lengths = data["ids"], data["lengths"]
    pos = torch.arange(ids.shape[1] - 1)[None]
    answer_start = (ids == sep_id).int().argmax(1, keepdim=True) + 1
    # Position j predicts token j + 1: keep it when that token is part of the answer.
    mask = (pos + 1 >= answer_start) & (pos + 1 < lengths[:, None])
    return {"logits": make_features(model, data)["logits"], "prefix": prefix, "mask": mask}


def answer_logits(asst: PrefixLlama, prefix: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Assistant logits at the text positions (all but the last), given the image prefix."""
    emb = torch.cat([prefix, asst.get_input_embeddings()(ids[:, :-1])], dim=1)
    return asst(inputs_embeds=emb).logits[:, prefix.shape[1] :].float()


def distill_loss(asst, data, tgt, idx) -> torch.Tensor:
    """Soft cross-entropy to the target's next-token distribution over answer positions."""
    t = int(data["lengths"][idx].max())
    logp = torch.log_softmax(answer_logits(asst, tgt["prefix"][idx], data["ids"][idx, :t]), -1)
    soft = torch.softmax(tgt["logits"][idx, : t - 1].float(), -1)
    mask = tgt["mask"][idx, : t - 1]
    return -((soft * logp).sum(-1) * mask).sum() / mask.sum().clamp(min=1)


@torch.inference_mode()
def agreement(asst, data, tgt, idx: torch.Tensor) -> float:
    """Top-1 agreement with the target's greedy token at answer positions of rows ``idx``."""
    hit = total = 0
    for s in range(0, len(idx), 64):
        rows = idx[s : s + 64]
        t = int(data["lengths"][rows].max())
        pred = answer_logits(asst, tgt["prefix"][rows], data["ids"][rows, :t]).argmax(-1)
        mask = tgt["mask"][rows, : t - 1]
        hit += int(((pred == tgt["logits"][rows, : t - 1].argmax(-1)) & mask).sum())
        total += int(mask.sum())
    return hit / max(total, 1)


def _stage_data(args, model, tok) -> tuple[dict, dict]:
    data_path, tgt_path = args.out / "data.safetensors", args.out / "targets.safetensors"
    if not data_path.is_file():
        t0 = time.time()
        data = make_data(model, tok, args.n_caption, args.n_vqa, seed=ASSISTANT_SEED)
        save_file(data, str(data_path))
        print(f"data: {len(data['ids'])} rows, {time.time() - t0:.0f}s", flush=True)
    data = load_file(str(data_path))
    if not tgt_path.is_file():
        save_file(make_targets(model, data, tok.sep_token_id), str(tgt_path))
    return data, load_file(str(tgt_path))


def _train(args, asst, data, tgt, train_rows) -> dict:
    """Stage 2; returns the checkpoint meta (step, elapsed_s) at the end."""
    params = [p for p in asst.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    meta = load_checkpoint(args.out / "ckpt", asst, opt) or {"step": 0, "elapsed_s": 0.0}
    step, start = meta["step"], time.time() - meta["elapsed_s"]
    saved = time.time()
    with (args.out / "log.jsonl").open("a") as log:
        while step < args.steps and time.time() - start < args.max_seconds:
            warm = min(1.0, (step + 1) / 30)
            for grp in opt.param_groups:
                grp["lr"] = args.lr * warm * 0.5 * (1 + math.cos(math.pi * step / args.steps))
            g = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
            idx = train_rows[torch.randint(len(train_rows), (args.batch,), generator=g)]
            loss = distill_loss(asst, data, tgt, idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            if step % 25 == 0:
                log.write(json.dumps({"step": step, "loss": round(loss.item(), 4),
                                      "t": round(time.time() - start, 1)}) + "\n")  # fmt: skip
                log.flush()
            if time.time() - saved > args.ckpt_every_s:
                save_checkpoint(args.out / "ckpt", asst, opt,
                                {"step": step, "elapsed_s": time.time() - start})  # fmt: skip
                saved = time.time()
    meta = {"step": step, "elapsed_s": time.time() - start}
    save_checkpoint(args.out / "ckpt", asst, opt, meta)
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = training_parser(__doc__, n_vqa=400, steps=1000, lr=5e-4, ckpt_every_s=60)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=600, help="training time budget")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    model, tok = load_target(args.weights_dir)
    model.requires_grad_(False)
    data, tgt = _stage_data(args, model, tok)
    perm = torch.randperm(len(data["ids"]), generator=torch.Generator().manual_seed(args.seed))
    n_val = max(1, len(perm) // 20)
    val, train_rows = perm[:n_val], perm[n_val:]
    torch.manual_seed(args.seed)
    asst, cfg = build_assistant(model, args.layers)
    init_agree = agreement(asst, data, tgt, val)
    meta = _train(args, asst, data, tgt, train_rows)
    # Stage 3: export fp16; metrics of the fp16 round trip, i.e. of the exported weights.
    asst = asst.half().float()
    val_agree = agreement(asst, data, tgt, val)
    sd = dict(asst.state_dict())
    _dedupe_shared(sd)
    save_tensors(sd, args.weights_dir / ASSISTANT_FILE, torch.float16)
    write_entry(args.weights_dir, ASSISTANT_FILE, {
        "kind": "assistant", "dtype": "float16", "config": cfg,
        "params": sum(p.numel() for p in asst.parameters()),
        "init": f"target embedding table (frozen, tied), layers 0..{args.layers - 1}, final norm",
        "training_command": args.command, "git_revision": code_revision(),
        "train_steps": meta["step"], "train_seconds": round(meta["elapsed_s"], 1),
        "data": {"n_caption": args.n_caption, "n_vqa": args.n_vqa, "val_rows": n_val,
                 "seed_stream": ASSISTANT_SEED, "source": "greedy outputs of the committed target"},
        "metrics": {"val_top1_agreement": val_agree, "init_val_top1_agreement": init_agree,
                    "positions": "answer tokens, teacher-forced on the target's greedy output"},
    })  # fmt: skip
    print(json.dumps({"init_agreement": init_agree, "val_agreement": val_agree, **meta}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

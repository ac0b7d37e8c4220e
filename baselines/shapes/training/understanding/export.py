"""Export a trained target checkpoint as committed fp16 weights + tokenizer + manifest entry.

    python -m hbench.baselines.shapes.training.understanding.export --ckpt /work/train-logs/understanding/target \
        --command "<the training command>"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from hbench.baselines.shapes.understanding.model import AUX_PREFIXES, ShapesVLM, TargetConfig
from hbench.baselines.shapes.understanding.tokenizer import build_tokenizer, save_tokenizer
from hbench.baselines.shapes.understanding.weights import (
    TARGET_FILE,
    TOKENIZER_FILE,
    WEIGHTS_DIR,
    save_tensors,
    write_entry,
)
from hbench.harness.provenance import code_revision

from .checkpoint import _dedupe_shared
from .train_target import evaluate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--ckpt", type=Path, required=True, help="training folder holding ckpt.safetensors/json"
    )
    ap.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR)
    ap.add_argument(
        "--command", required=True, help="the training command, recorded in the manifest"
    )
    ap.add_argument("--eval-n", type=int, default=200)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from safetensors.torch import load_file

    meta = json.loads((args.ckpt / "ckpt.json").read_text())
    cfg = TargetConfig.from_dict(meta["config"])
    model = ShapesVLM(cfg)
    tensors = load_file(str(args.ckpt / "ckpt.safetensors"))
    model.load_state_dict(
        {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=False
    )
    model.lm.tie_weights()
    # Round-trip through fp16 so the metrics describe exactly the committed weights.
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith(AUX_PREFIXES)}
    _dedupe_shared(sd)
    args.weights_dir.mkdir(parents=True, exist_ok=True)
    save_tensors(sd, args.weights_dir / TARGET_FILE, torch.float16)
    fp16 = load_file(str(args.weights_dir / TARGET_FILE))
    model.load_state_dict({k: v.float() for k, v in fp16.items()}, strict=False)
    model.lm.tie_weights()
    tok = build_tokenizer()
    save_tokenizer(tok, args.weights_dir / TOKENIZER_FILE)
    metrics = evaluate(model.float(), tok, args.eval_n)
    params = sum(p.numel() for p in model.parameters())
    rev = code_revision()
    write_entry(
        args.weights_dir,
        TOKENIZER_FILE,
        {
            "kind": "tokenizer",
            "git_revision": rev,
            "command": "built by tokenizer.build_tokenizer()",
        },
    )
    write_entry(
        args.weights_dir,
        TARGET_FILE,
        {
            "kind": "target",
            "dtype": "float16",
            "config": cfg.to_dict(),
            "params": params,
            "training_command": args.command,
            "git_revision": rev,
            "train_steps": meta["step"],
            "train_seconds": round(meta["elapsed_s"], 1),
            "metrics": {
                **metrics,
                "eval_n": args.eval_n,
                "eval": "held-out seed stream EVAL_SEED, greedy via transformers generate",
            },
        },
    )
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

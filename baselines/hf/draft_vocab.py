"""Store EAGLE-3's draft vocabulary in an exported head: the target ids its trainer's reduced
softmax covered (every token the target chose in the training data).

    python -m hbench.baselines.hf.draft_vocab --head HEAD.safetensors --data TRAIN_HEAD_WORK \\
        --out HEAD_WITH_VOCAB.safetensors

At decode time the head then projects onto those rows of the LM head only
(:meth:`~hbench.baselines.runtime.eagle.EagleHead.logits`); verification is unchanged, so
greedy output stays the target's. The manifest (``<head>.json``) is copied with the new
sha256, size and a ``draft_vocab`` entry. :mod:`.train_head` stores the same vocabulary
when it exports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path

import torch
from safetensors import safe_open

from hbench.baselines.runtime.eagle import EagleHead


def data_vocab(work: Path) -> torch.Tensor:
    """Sorted unique target greedy ids in ``work/features.safetensors`` (the trainer's set)."""
    path = work / "features.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"no features.safetensors in {work} (train_head's work dir)")
    with safe_open(str(path), framework="pt") as f:
        greedy = f.get_tensor("greedy")
    return torch.unique(greedy[greedy >= 0].long())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--head", type=Path, required=True, help="exported head .safetensors")
    ap.add_argument("--data", type=Path, required=True, help="train_head's work dir")
    ap.add_argument("--out", type=Path, required=True, help="head .safetensors to write")
    args = ap.parse_args(argv)
    command = shlex.join(
        ["python", "-m", "hbench.baselines.hf.draft_vocab", *(argv or sys.argv[1:])]
    )
    head = EagleHead.load(args.head)
    head.draft_vocab = data_vocab(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    head.half().save(args.out)
    src = args.head.with_suffix(".json")
    manifest = json.loads(src.read_text()) if src.is_file() else {}
    manifest.update(
        file=args.out.name,
        sha256=hashlib.sha256(args.out.read_bytes()).hexdigest(),
        bytes=args.out.stat().st_size,
    )
    manifest["draft_vocab"] = {
        "size": int(head.draft_vocab.numel()),
        "source": "every target greedy token in the training data (the trainer's reduced "
        "softmax); tensor 'draft_vocab' in the safetensors file",
        "command": command,
    }
    args.out.with_suffix(".json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {args.out} (draft vocabulary of {head.draft_vocab.numel()} ids)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

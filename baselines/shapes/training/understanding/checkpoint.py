"""Resumable training checkpoints as safetensors + JSON (no pickle anywhere)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from hbench.baselines.shapes.understanding.weights import WEIGHTS_DIR


def save_checkpoint(
    path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, meta: dict[str, Any]
) -> None:
    """Atomically write ``path``.safetensors (model + AdamW moments) and ``path``.json (meta)."""
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    steps = {}
    for i, p in enumerate(opt.param_groups[0]["params"]):
        st = opt.state.get(p)
        if st:
            tensors[f"opt.{i}.exp_avg"] = st["exp_avg"].contiguous()
            tensors[f"opt.{i}.exp_avg_sq"] = st["exp_avg_sq"].contiguous()
            steps[str(i)] = float(st["step"])
    _dedupe_shared(tensors)
    tmp = path.with_suffix(".tmp.safetensors")
    save_file(tensors, str(tmp))
    os.replace(tmp, path.with_suffix(".safetensors"))
    meta = {**meta, "opt_steps": steps}
    tmpj = path.with_suffix(".tmp.json")
    tmpj.write_text(json.dumps(meta, indent=1))
    os.replace(tmpj, path.with_suffix(".json"))


def load_checkpoint(
    path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer
) -> dict[str, Any] | None:
    """Restore a checkpoint written by :func:`save_checkpoint`; None when there is none."""
    st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
    if not (st.is_file() and js.is_file()):
        return None
    tensors = load_file(str(st))
    meta = json.loads(js.read_text())
    model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(model_sd, strict=False)  # tied weights are stored once
    for i, p in enumerate(opt.param_groups[0]["params"]):
        if f"opt.{i}.exp_avg" in tensors:
            opt.state[p] = {
                "step": torch.tensor(meta["opt_steps"][str(i)]),
                "exp_avg": tensors[f"opt.{i}.exp_avg"],
                "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"],
            }
    return meta


def _dedupe_shared(tensors: dict[str, torch.Tensor]) -> None:
    """safetensors refuses tensors sharing memory: keep the first name of each storage."""
    seen: dict[tuple[int, int], str] = {}
    for k in list(tensors):
        v = tensors[k]
        key = (v.untyped_storage().data_ptr(), v.storage_offset())
        if key in seen:
            del tensors[k]
        else:
            seen[key] = k


def training_parser(doc: str | None, **defaults: float) -> argparse.ArgumentParser:
    """The options every resumable shapes trainer shares; ``defaults`` override the values.

    Args:
        doc: the trainer's module docstring (its ``--help``).
        **defaults: ``n_caption``, ``n_vqa``, ``steps``, ``batch``, ``lr``, ``ckpt_every_s``.
    """
    d = {"n_caption": 2000, "n_vqa": 500, "steps": 800, "batch": 32, "lr": 1e-3,
         "ckpt_every_s": 120, **defaults}  # fmt: skip
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR)
    for name, kind in (("n_caption", int), ("n_vqa", int), ("steps", int), ("batch", int),
                       ("lr", float), ("ckpt_every_s", float)):  # fmt: skip
        ap.add_argument("--" + name.replace("_", "-"), type=kind, default=d[name])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--command", default="", help="recorded in the manifest")
    return ap

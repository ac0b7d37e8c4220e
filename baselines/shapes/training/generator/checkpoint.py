"""Resumable training state as safetensors + JSON (no pickle): model, EMA, AdamW, step."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def save_state(
    path: Path,
    model: nn.Module,
    ema: nn.Module | None,
    opt: torch.optim.Optimizer,
    step: int,
    extra: dict,
) -> None:
    """Write ``path`` (.safetensors) and ``path.json`` atomically (tmp file + rename).

    ``ema`` is None for modules trained without an average (the discriminator).
    """
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = v.detach().clone()
    for k, v in (ema.state_dict() if ema is not None else {}).items():
        tensors[f"ema.{k}"] = v.detach().clone()
    names = {id(p): n for n, p in model.named_parameters()}
    opt_steps: dict[str, float] = {}
    for group in opt.param_groups:
        for p in group["params"]:
            st = opt.state.get(p)
            if not st:
                continue
            n = names[id(p)]
            tensors[f"opt.{n}.exp_avg"] = st["exp_avg"]
            tensors[f"opt.{n}.exp_avg_sq"] = st["exp_avg_sq"]
            opt_steps[n] = float(st["step"])
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    meta = {"step": step, "opt_steps": opt_steps, **extra}
    path.with_suffix(".json.tmp").write_text(json.dumps(meta))
    os.replace(tmp, path)
    os.replace(path.with_suffix(".json.tmp"), path.with_suffix(".json"))


def load_state(
    path: Path, model: nn.Module, ema: nn.Module | None, opt: torch.optim.Optimizer
) -> dict:
    """Restore what :func:`save_state` wrote; returns its JSON metadata."""
    path = Path(path)
    tensors = load_file(str(path))
    meta = json.loads(path.with_suffix(".json").read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if ema is not None:
        ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    params = dict(model.named_parameters())
    for n, step in meta["opt_steps"].items():
        opt.state[params[n]] = {
            "step": torch.tensor(step),
            "exp_avg": tensors[f"opt.{n}.exp_avg"],
            "exp_avg_sq": tensors[f"opt.{n}.exp_avg_sq"],
        }
    return meta


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, step: int, max_decay: float) -> None:
    """Exponential moving average with the usual warm-up ``(1 + n) / (10 + n)``."""
    decay = min(max_decay, (1 + step) / (10 + step))
    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
        pe.lerp_(pm, 1 - decay)

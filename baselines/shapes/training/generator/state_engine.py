"""Helpers for evaluating training checkpoints and sampler variants with the engines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from safetensors.torch import load_file

from hbench.baselines.shapes.generator.engines import ShapesImageEngine
from hbench.baselines.shapes.generator.network import GeneratorConfig, ShapesDenoiser


def load_from_state(engine: ShapesImageEngine, state_path: Path, prefix: str = "ema.") -> None:
    """Load an engine's denoiser from a training state file (its EMA weights by default)."""
    tensors = load_file(str(state_path))
    meta = json.loads(Path(state_path).with_suffix(".json").read_text())
    cfg = (
        GeneratorConfig.from_dict(meta["config"])
        if "config" in meta
        else GeneratorConfig(vocab_size=engine.tokenizer.size)
    )
    net = ShapesDenoiser(cfg)
    net.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    engine.net = net.eval().requires_grad_(False)
    engine.entry = {"state": str(state_path), "step": meta.get("step")}


def override_spec(engine: ShapesImageEngine, items: list[str]) -> None:
    """Apply ``t2i.text_scale=3``-style overrides to an engine's guidance/schedule."""
    spec = engine.spec
    for item in items:
        key, _, value = item.partition("=")
        side, _, name = key.partition(".")
        if side not in ("t2i", "edit"):
            raise ValueError(f"override {item!r}: key must start with t2i. or edit.")
        g_attr, s_attr = f"{side}_guidance", f"{side}_schedule"
        if name in ("num_timesteps", "shift"):
            cur = getattr(spec, s_attr)
            typ = int if name == "num_timesteps" else float
            spec = dataclasses.replace(
                spec, **{s_attr: dataclasses.replace(cur, **{name: typ(value)})}
            )
        else:
            cur = getattr(spec, g_attr)
            val = (
                tuple(float(v) for v in value.split(","))
                if name == "interval"
                else (value if name == "renorm_type" else float(value))
            )
            spec = dataclasses.replace(spec, **{g_attr: dataclasses.replace(cur, **{name: val})})
    engine.spec = spec

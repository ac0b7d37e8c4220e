"""Load the committed understanding target, tokenizer, draft head and assistant (checksum-verified)."""

from __future__ import annotations

from pathlib import Path

import torch

from hbench.baselines.runtime.eagle import EagleHead

from .hf_peer import PrefixLlama
from .model import AUX_PREFIX, ShapesVLM, TargetConfig
from .tokenizer import load_tokenizer
from .weights import (
    ASSISTANT_FILE,
    HEAD_FILE,
    TARGET_FILE,
    TOKENIZER_FILE,
    WEIGHTS_DIR,
    load_tensors,
    read_manifest,
    verified_path,
)


def load_target(
    weights_dir: Path | None = None, dtype: torch.dtype = torch.float32, device: str = "cpu"
):
    """``(ShapesVLM in eval mode, tokenizer)`` from the weights folder."""
    weights_dir = Path(weights_dir or WEIGHTS_DIR)
    entry = read_manifest(weights_dir)["files"].get(TARGET_FILE)
    if entry is None or "config" not in entry:
        raise ValueError(f"{weights_dir}: manifest entry {TARGET_FILE} lacks a model config")
    model = ShapesVLM(TargetConfig.from_dict(entry["config"]))
    state = load_tensors(weights_dir, TARGET_FILE)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # The LM head is tied to the embedding table and stored once.
    missing = [k for k in missing if k != "lm.lm_head.weight" and not k.startswith(AUX_PREFIX)]
    if missing or unexpected:
        raise ValueError(f"{weights_dir / TARGET_FILE}: missing {missing}, unexpected {unexpected}")
    model.lm.tie_weights()
    tok = load_tokenizer(verified_path(weights_dir, TOKENIZER_FILE))
    return model.to(device=device, dtype=dtype).eval(), tok


def load_head(
    weights_dir: Path | None = None, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> EagleHead:
    """The EAGLE draft head (checksum-verified before loading)."""
    path = verified_path(Path(weights_dir or WEIGHTS_DIR), HEAD_FILE)
    return EagleHead.load(path, device=device).to(dtype).eval()


def load_assistant(
    weights_dir: Path | None = None, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> PrefixLlama:
    """The distilled assistant for transformers' assisted generation (checksum-verified)."""
    weights_dir = Path(weights_dir or WEIGHTS_DIR)
    entry = read_manifest(weights_dir)["files"].get(ASSISTANT_FILE)
    if entry is None or "config" not in entry:
        raise ValueError(f"{weights_dir}: manifest entry {ASSISTANT_FILE} lacks a model config")
    model = PrefixLlama(TargetConfig.from_dict(entry["config"]).llama_config())
    state = load_tensors(weights_dir, ASSISTANT_FILE)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]  # tied to the embedding table
    if missing or unexpected:
        raise ValueError(
            f"{weights_dir / ASSISTANT_FILE}: missing {missing}, unexpected {unexpected}"
        )
    model.tie_weights()
    return model.to(device=device, dtype=dtype).eval()

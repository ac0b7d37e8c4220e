"""Load the committed understanding target, tokenizer, draft head and assistant (checksum-verified)."""

from __future__ import annotations

from pathlib import Path

import torch

from hbench.baselines.runtime.eagle import EagleHead

from .hf_peer import PrefixLlama
from .model import AUX_PREFIXES, ShapesVLM, TargetConfig
from .tokenizer import load_tokenizer
from .weights import (
    ASSISTANT_FILE,
    HEAD_FILE,
    TARGET_FILE,
    TOKENIZER_FILE,
    WEIGHTS_DIR,
    WeightsError,
    load_tensors,
    read_manifest,
    verified_path,
)


def _config(weights_dir: Path, file: str) -> TargetConfig:
    """The ``TargetConfig`` stored in the manifest entry of ``file``."""
    entry = read_manifest(weights_dir)["files"].get(file)
    if entry is None or "config" not in entry:
        raise WeightsError(f"{weights_dir}: manifest entry {file} lacks a model config")
    return TargetConfig.from_dict(entry["config"])


def _load_tied(
    model: torch.nn.Module,
    weights_dir: Path,
    file: str,
    tied: str,
    optional: tuple[str, ...] = (),
) -> None:
    """Load ``file`` into ``model``; the LM head ``tied`` is stored once, as the embedding
    table, and keys under the ``optional`` prefixes (training-only modules) may be absent."""
    state = load_tensors(weights_dir, file)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != tied and not (optional and k.startswith(optional))]
    if missing or unexpected:
        raise WeightsError(f"{weights_dir / file}: missing {missing}, unexpected {unexpected}")


def load_target(
    weights_dir: Path | None = None, dtype: torch.dtype = torch.float32, device: str = "cpu"
):
    """``(ShapesVLM in eval mode, tokenizer)`` from the weights folder."""
    weights_dir = Path(weights_dir or WEIGHTS_DIR)
    model = ShapesVLM(_config(weights_dir, TARGET_FILE))
    _load_tied(model, weights_dir, TARGET_FILE, "lm.lm_head.weight", AUX_PREFIXES)
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
    model = PrefixLlama(_config(weights_dir, ASSISTANT_FILE).llama_config())
    _load_tied(model, weights_dir, ASSISTANT_FILE, "lm_head.weight")
    model.tie_weights()
    return model.to(device=device, dtype=dtype).eval()

"""A draft model cut from its target: the first ``N`` decoder layers, the final norm and the
LM head (tied to the embedding in SmolLM2), sharing the target's tokenizer and embedding table.

Shipped as a *trimmed* safetensors file: only the draft's own weights (its layers and norm,
fp16) and its config in the metadata; the embedding table (which is also the tied LM head and
most of the parameters) is the target's own and is taken from the target at load time, so the
shipped file stays small. :func:`load_draft` turns it (or an ordinary model folder) into a
transformers ``LlamaForCausalLM``, usable by our draft-model drafter and by transformers'
``generate(assistant_model=...)`` alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hbench.baselines.runtime.tagged_file import read_tagged_metadata

FORMAT = "hbench-trimmed-draft-v1"
EMBED_KEY = "model.embed_tokens.weight"


def trim(target: nn.Module, n_layers: int) -> nn.Module:
    """A new ``LlamaForCausalLM``: the target's first ``n_layers`` layers, its final norm, its
    embedding and LM head (tied or not, as in the target). Weights are copied, never shared."""
    from transformers import LlamaForCausalLM

    cfg = target.config
    if cfg.model_type != "llama":
        raise ValueError(f"trim needs a Llama target, got model_type={cfg.model_type!r}")
    if not 1 <= n_layers < cfg.num_hidden_layers:
        raise ValueError(f"n_layers must be in [1, {cfg.num_hidden_layers - 1}], got {n_layers}")
    dcfg = type(cfg).from_dict({**cfg.to_dict(), "num_hidden_layers": n_layers})
    draft = LlamaForCausalLM(dcfg).to(target.dtype)
    state = {
        k: v
        for k, v in target.state_dict().items()
        if not k.startswith("model.layers.") or int(k.split(".")[2]) < n_layers
    }
    draft.load_state_dict({k: v.clone() for k, v in state.items()}, strict=False)
    if cfg.tie_word_embeddings:
        draft.tie_weights()
    return draft.eval()


def own_state(draft: nn.Module) -> dict[str, torch.Tensor]:
    """The draft's weights that are not the target's embedding (what a trimmed file ships;
    an untied LM head is the draft's own)."""
    skip = {EMBED_KEY, "lm_head.weight"} if draft.config.tie_word_embeddings else {EMBED_KEY}
    return {k: v for k, v in draft.state_dict().items() if k not in skip}


def save_trimmed(draft: nn.Module, path: str | Path, dtype: torch.dtype = torch.float16) -> None:
    """Write the draft's own weights (``dtype``) and config to one safetensors file."""
    meta = {"format": FORMAT, "config": json.dumps(draft.config.to_dict())}
    tensors = {k: v.detach().to(dtype).contiguous().cpu() for k, v in own_state(draft).items()}
    save_file(tensors, str(path), metadata=meta)


def is_trimmed(path: str | Path) -> bool:
    """Whether ``path`` is a trimmed draft file (rather than a model folder)."""
    return Path(path).is_file() and str(path).endswith(".safetensors")


def load_trimmed(path: str | Path, target: nn.Module) -> nn.Module:
    """A ``LlamaForCausalLM`` from a trimmed draft file and the target's embedding table.

    Raises:
        ValueError: not a trimmed draft file, or its config does not fit the target.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    meta = read_tagged_metadata(path, FORMAT, "an hbench trimmed draft")
    cfg = LlamaConfig.from_dict(json.loads(meta["config"]))
    tcfg = target.config
    for key in ("vocab_size", "hidden_size"):
        if getattr(cfg, key) != getattr(tcfg, key):
            raise ValueError(
                f"{path}: draft {key}={getattr(cfg, key)} does not match the target's "
                f"{getattr(tcfg, key)}"
            )
    draft = LlamaForCausalLM(cfg).to(target.dtype)
    state: dict[str, Any] = {k: v.to(target.dtype) for k, v in load_file(str(path)).items()}
    state[EMBED_KEY] = target.get_input_embeddings().weight.detach().clone()
    missing, unexpected = draft.load_state_dict(state, strict=False)
    if cfg.tie_word_embeddings:
        missing = [k for k in missing if k != "lm_head.weight"]  # tied to the embedding
    if missing or unexpected:
        raise ValueError(f"{path}: missing keys {missing[:3]}, unexpected keys {unexpected[:3]}")
    if cfg.tie_word_embeddings:
        draft.tie_weights()
    return draft.to(target.device).eval()


def load_draft(path: str | Path, target: nn.Module, trust_remote_code: bool = False) -> nn.Module:
    """A draft causal LM from a model folder or a trimmed draft file (built on ``target``)."""
    if is_trimmed(path):
        return load_trimmed(path, target)
    from .engine import load_model

    return load_model(path, str(target.device), target.dtype, "", trust_remote_code)[0]

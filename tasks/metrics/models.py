"""Offline model loading shared by the metrics: open_clip and transformers CLIP.

Nothing here reaches a model hub: open_clip architectures are built with
``pretrained=None`` and their weights loaded from a local state dict; transformers models
load from a local folder with ``local_files_only=True`` and safetensors weights.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import torch
from PIL import Image

from .base import load_state_dict, require_files, require_path, to_rgb


def build_open_clip(
    model: str,
    checkpoint: str,
    *,
    model_config: str = "",
    quick_gelu: bool = False,
    device: str = "cpu",
) -> tuple[Any, Any, Any]:
    """An open_clip model with local weights, its eval preprocessing and its tokenizer.

    Args:
        model: open_clip architecture name (e.g. ``ViT-H-14``).
        checkpoint: Local state dict (safetensors, or a weights-only torch file; an
            HPSv2-style ``{"state_dict": ...}`` wrapper is accepted).
        model_config: Optional JSON file of an extra architecture (``open_clip.add_model_config``).
        quick_gelu: Build with QuickGELU (OpenAI-trained weights need it).
        device: Where the model goes.

    Returns:
        ``(model, preprocess, tokenizer)``.

    Raises:
        MissingCheckpointError: A path that does not exist.
        ValueError: Unknown architecture, or weights that do not fit it.
    """
    import open_clip

    if model_config:
        open_clip.add_model_config(str(require_path(model_config, "model_config")))
    if model not in open_clip.list_models():
        close = difflib.get_close_matches(model, open_clip.list_models(), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown open_clip architecture {model!r}.{hint}")
    state = load_state_dict(checkpoint)
    net, _, preprocess = open_clip.create_model_and_transforms(
        model, pretrained=None, force_quick_gelu=quick_gelu
    )
    scale = state.get("logit_scale")
    if scale is not None and scale.ndim != net.logit_scale.ndim:
        state["logit_scale"] = scale.reshape(net.logit_scale.shape)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if "\n" in str(err) else str(err)
        raise ValueError(
            f"{checkpoint}: weights do not fit open_clip {model!r}: {first[:300]}"
        ) from err
    return net.to(device).eval(), preprocess, open_clip.get_tokenizer(model)


HF_MODEL_FILES = (("config.json",), ("model.safetensors", "model.safetensors.index.json"))
HF_PROCESSOR_FILES = (
    ("preprocessor_config.json", "processor_config.json"),  # transformers 4 / 5 layouts
    ("tokenizer.json", "vocab.json"),
)


def check_hf_clip(model_dir: str, processor_dir: str, what: str) -> None:
    """Check a transformers CLIP folder (and its processor folder) have their files."""
    require_files(model_dir, HF_MODEL_FILES, f"{what} model")
    require_files(processor_dir or model_dir, HF_PROCESSOR_FILES, f"{what} processor")


def build_hf_clip(model_dir: str, processor_dir: str, what: str, device: str) -> tuple[Any, Any]:
    """A transformers ``CLIPModel`` and its processor from local folders (safetensors only)."""
    from transformers import AutoProcessor, CLIPModel

    check_hf_clip(model_dir, processor_dir, what)
    model = CLIPModel.from_pretrained(model_dir, local_files_only=True, use_safetensors=True)
    processor = AutoProcessor.from_pretrained(processor_dir or model_dir, local_files_only=True)
    return model.to(device).eval(), processor


def read_tensor(model_dir: str, name: str) -> torch.Tensor:
    """One tensor of a transformers safetensors checkpoint (single file or sharded)."""
    import json
    from pathlib import Path

    from safetensors import safe_open

    root = Path(model_dir)
    index = root / "model.safetensors.index.json"
    file = root / "model.safetensors"
    if index.is_file():
        file = root / json.loads(index.read_text())["weight_map"][name]
    with safe_open(str(file), framework="pt") as fh:
        return fh.get_tensor(name)


def pooled(out: Any) -> torch.Tensor:
    """The embedding tensor of a ``get_*_features`` result.

    transformers 5 returns ``BaseModelOutputWithPooling`` whose ``pooler_output`` holds
    the projected embedding; transformers 4 returned the tensor itself.
    """
    if isinstance(out, torch.Tensor):
        return out
    emb = getattr(out, "pooler_output", None)
    if not isinstance(emb, torch.Tensor):
        raise TypeError(f"expected an embedding tensor or pooler_output, got {type(out).__name__}")
    return emb


class ClipFeatures(torch.nn.Module):
    """A transformers ``CLIPModel`` whose ``get_*_features`` return embedding tensors.

    This is the "CLIP compatible model" torchmetrics' ``CLIPScore`` accepts from a callable
    ``model_name_or_path`` (its documented extension point): its feature path calls
    ``get_image_features`` / ``get_text_features`` and expects tensors, which transformers 5
    no longer returns.
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self.config = model.config  # torchmetrics reads text_config.max_position_embeddings
        self.logit_scale = model.logit_scale

    def get_image_features(self, pixel_values: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Projected image embeddings, ``(B, D)``."""
        return pooled(self.model.get_image_features(pixel_values=pixel_values, **kwargs))

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> torch.Tensor:
        """Projected text embeddings, ``(B, D)``."""
        out = self.model.get_text_features(
            input_ids=input_ids, attention_mask=attention_mask, **kwargs
        )
        return pooled(out)


def max_text_tokens(model: Any, default: int = 77) -> int:
    """The text tower's context length."""
    cfg = getattr(getattr(model, "config", None), "text_config", None)
    return int(getattr(cfg, "max_position_embeddings", default))


def as_numpy(x: torch.Tensor) -> np.ndarray:
    """float32 numpy copy of a tensor."""
    return x.detach().float().cpu().numpy().astype(np.float32, copy=False)


def chw_uint8(image: Image.Image) -> torch.Tensor:
    """An RGB image as a ``(3, H, W)`` uint8 tensor (the image form torchmetrics takes)."""
    arr = np.asarray(to_rgb(image), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def normalized(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)

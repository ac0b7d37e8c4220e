"""Load BAGEL as the official eval scripts do, and swap in distilled or fused parts.

:func:`load_session` mirrors ``setup_models`` of ``eval/gen/gedit/gen_images_gedit.py``
(configs, VAE, tokenizer + special tokens, ``ema.safetensors`` with ``strict=False``,
transforms ``ImageTransform(1024, 512, 16)`` / ``(980, 378, 14)``; understanding uses the
``vlm_sft`` transform of ``data/configs/example.yaml`` like ``eval/vlm/utils.py``).

Variants of one family share one loaded model per (checkout, weights, device, dtype) through
:class:`ModelPool`: a 14B-parameter model per variant would not fit one GPU. What a variant
changes is applied only around its own calls: :class:`WeightSwap` exchanges parameter
storage with the distilled tensors (exact, no arithmetic on the base weights) and
:class:`FusedRMSNorm` modules replace BAGEL's ``Qwen2RMSNorm`` inside :func:`fused_norms`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .attention import flash_attn_available, install_fallback
from .checkout import import_bagel
from .contexts import Session


def prepare_attention(mode: str) -> str:
    """Make ``import flash_attn`` work as ``mode`` asks; returns what is in use.

    Raises:
        ImportError: ``flash`` without flash-attention installed.
    """
    if mode == "flash" or (mode == "auto" and flash_attn_available()):
        if not flash_attn_available():
            raise ImportError("bagel: attention='flash' but flash_attn is not installed")
        return "flash_attn"
    install_fallback()
    return "reference"


def build_bagel(code: Any, root: Path, ae_params: Any = None, load_ae_weights: bool = True):
    """Construct BAGEL and its VAE from the folder's configs as ``setup_models`` does.

    Args:
        code: The imported checkout.
        root: Weights folder with ``llm_config.json`` and ``vit_config.json``.
        ae_params: BAGEL ``AutoEncoderParams`` for a non-standard VAE (small test models);
            None uses the checkout's ``load_ae`` (the FLUX VAE).
        load_ae_weights: Read ``ae.safetensors`` (False: keep the VAE's initialisation).

    Returns:
        ``(model, vae)``, weights not yet loaded into ``model``.
    """
    from safetensors.torch import load_file

    b = code.bagel
    llm_config = b.Qwen2Config.from_json_file(str(root / "llm_config.json"))
    llm_config.qk_norm = True
    llm_config.tie_word_embeddings = False
    llm_config.layer_module = "Qwen2MoTDecoderLayer"
    # transformers < 5 gave every config pad_token_id = None; BAGEL's Qwen2Model reads it.
    if getattr(llm_config, "pad_token_id", "missing") == "missing":
        llm_config.pad_token_id = None
    vit_config = b.SiglipVisionConfig.from_json_file(str(root / "vit_config.json"))
    vit_config.rope = False
    vit_config.num_hidden_layers = vit_config.num_hidden_layers - 1
    ae_path = str(root / "ae.safetensors") if load_ae_weights else None
    if ae_params is None:
        vae, vae_config = code.autoencoder.load_ae(local_path=ae_path)
    else:
        vae, vae_config = code.autoencoder.AutoEncoder(ae_params), ae_params
        if ae_path is not None:
            vae.load_state_dict(load_file(ae_path))
    config = b.BagelConfig(
        visual_gen=True, visual_und=True, llm_config=llm_config, vit_config=vit_config,
        vae_config=vae_config, vit_max_num_patch_per_side=70, connector_act="gelu_pytorch_tanh",
        latent_patch_size=2, max_latent_size=64,
    )  # fmt: skip
    model = b.Bagel(b.Qwen2ForCausalLM(llm_config), b.SiglipVisionModel(vit_config), config)
    model.vit_model.vision_model.embeddings.convert_conv2d_to_linear(vit_config)
    return model, vae


def load_session(
    checkout: str,
    weights: str,
    device: str,
    dtype: torch.dtype,
    autocast: str,
    ae_params: Any = None,
) -> Session:
    """Build BAGEL from the checkout's code and the weights folder (no network)."""
    import yaml
    from safetensors.torch import load_file

    code = import_bagel(checkout)
    root = Path(weights)
    model, vae = build_bagel(code, root, ae_params)
    tokenizer = code.tokenizer_cls.from_pretrained(str(root))
    tokenizer, new_token_ids, _ = code.data_utils.add_special_tokens(tokenizer)
    state = load_file(str(root / "ema.safetensors"), device="cpu")
    model.load_state_dict(state, strict=False)  # as the scripts do (they print the message)
    del state
    model = model.to(device=device, dtype=dtype).eval()
    model.language_model.model.enable_taylorseer = False
    vae = vae.to(device).eval()  # the scripts keep the VAE in float32
    vlm = yaml.safe_load((code.root / "data/configs/example.yaml").read_text())["vlm_sft"]
    args = vlm["image_transform_args"]
    tr = code.transforms.ImageTransform
    und = tr(args["max_image_size"], args["min_image_size"], args["image_stride"],
             max_pixels=args["max_pixels"])  # fmt: skip
    return Session(
        model=model,
        vae=vae,
        tokenizer=tokenizer,
        new_token_ids=new_token_ids,
        vae_transform=tr(1024, 512, 16),
        vit_transform=tr(980, 378, 14),
        code=code,
        device=device,
        autocast=autocast,
        und_transform=und,
    )


class ModelPool:
    """Loaded sessions keyed by (checkout, weights, device, dtype, autocast), shared by variants.

    Args:
        loader: ``load_session``-compatible callable (tests pass one with a small VAE).
    """

    def __init__(self, loader: Callable[..., Session] | None = None) -> None:
        self._sessions: dict[tuple, Session] = {}
        self._loader = loader or load_session

    def get(
        self, checkout: str, weights: str, device: str, dtype: torch.dtype, autocast: str
    ) -> Session:
        key = (str(Path(checkout).resolve()), str(Path(weights).resolve()), device, dtype, autocast)
        if key not in self._sessions:
            self._sessions[key] = self._loader(checkout, weights, device, dtype, autocast)
        return self._sessions[key]


# One pool per process: the documented exception to "no module-level state" (a second
# copy of a 14B model per variant does not fit a GPU).
POOL = ModelPool()


# ---------------------------------------------------------------- distilled weights


def _lora_scale(path: Path, metadata: dict[str, str], given: float | None) -> float:
    if given is not None:
        return given
    meta = dict(metadata)
    cfg = path.with_name("adapter_config.json")
    if "lora_alpha" not in meta and cfg.is_file():
        meta.update({k: str(v) for k, v in json.loads(cfg.read_text()).items()})
    try:
        return float(meta["lora_alpha"]) / float(meta["r"])
    except KeyError as err:
        raise ValueError(
            f"{path}: LoRA weights without lora_scale: set the option, or store lora_alpha and r "
            "in the safetensors metadata or an adapter_config.json beside it"
        ) from err


def distilled_tensors(
    model: nn.Module, path: str | Path, lora_scale: float | None = None
) -> dict[str, torch.Tensor]:
    """Replacement tensors for ``model``'s parameters from a full or LoRA safetensors file.

    Full: every key must name a parameter of ``model`` with the same shape. LoRA: keys
    ``<module>.lora_A.weight`` ``[r, in]`` and ``<module>.lora_B.weight`` ``[out, r]`` (a
    ``base_model.model.`` prefix is dropped) give ``W + scale * B @ A`` in float32, cast back.

    Raises:
        ValueError: Unknown names, wrong shapes, unpaired LoRA factors.
    """
    from safetensors import safe_open

    path = Path(path)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        raw = {k: f.get_tensor(k) for k in f.keys()}
    params = dict(model.named_parameters())
    out: dict[str, torch.Tensor] = {}
    lora = {k.removeprefix("base_model.model."): v for k, v in raw.items() if ".lora_" in k}
    if lora:
        scale = _lora_scale(path, metadata, lora_scale)
        modules = sorted({k.split(".lora_")[0] for k in lora})
        for name in modules:
            a, b = lora.get(f"{name}.lora_A.weight"), lora.get(f"{name}.lora_B.weight")
            target = params.get(f"{name}.weight")
            if a is None or b is None or target is None:
                raise ValueError(
                    f"{path}: LoRA for {name!r} needs lora_A, lora_B and a {name}.weight parameter"
                )
            if (b.shape[0], a.shape[1]) != tuple(target.shape) or a.shape[0] != b.shape[1]:
                raise ValueError(
                    f"{path}: LoRA {name!r} shapes A{tuple(a.shape)} B{tuple(b.shape)} do not fit {tuple(target.shape)}"
                )
            delta = scale * (b.float() @ a.float())
            out[f"{name}.weight"] = (target.detach().float().cpu() + delta).to(target.dtype)
        full = {k: v for k, v in raw.items() if ".lora_" not in k}
    else:
        full = raw
    for name, tensor in full.items():
        if name not in params:
            raise ValueError(f"{path}: {name!r} is not a parameter of the model")
        if tuple(tensor.shape) != tuple(params[name].shape):
            raise ValueError(
                f"{path}: {name!r} has shape {tuple(tensor.shape)}, the model's is {tuple(params[name].shape)}"
            )
        out[name] = tensor.to(params[name].dtype)
    if not out:
        raise ValueError(f"{path}: no tensors")
    return out


class WeightSwap:
    """Exchange parameter storage with replacement tensors inside ``with swap.active():``."""

    def __init__(self, model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
        params = dict(model.named_parameters())
        self._pairs = [
            (params[k], v.to(device=params[k].device, dtype=params[k].dtype))
            for k, v in tensors.items()
        ]

    def __len__(self) -> int:
        return len(self._pairs)

    def _exchange(self) -> None:
        for i, (p, other) in enumerate(self._pairs):
            current = p.data
            p.data = other
            self._pairs[i] = (p, current)

    @contextmanager
    def active(self) -> Iterator[None]:
        self._exchange()
        try:
            yield
        finally:
            self._exchange()


# ---------------------------------------------------------------- fused kernels


class FusedRMSNorm(nn.Module):
    """BAGEL's ``Qwen2RMSNorm`` through :func:`hbench.kernels.rmsnorm.rmsnorm` (same math)."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.weight = norm.weight
        self.variance_epsilon = norm.variance_epsilon

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        from hbench.kernels.rmsnorm import rmsnorm

        return rmsnorm(hidden_states.contiguous(), self.weight, self.variance_epsilon)


def _norm_sites(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    return [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child).__name__ == "Qwen2RMSNorm"
    ]


@contextmanager
def fused_norms(model: nn.Module) -> Iterator[int]:
    """Replace every ``Qwen2RMSNorm`` under ``model`` by :class:`FusedRMSNorm` in the block."""
    sites = _norm_sites(model)
    for parent, name, child in sites:
        setattr(parent, name, FusedRMSNorm(child))
    try:
        yield len(sites)
    finally:
        for parent, name, child in sites:
            setattr(parent, name, child)

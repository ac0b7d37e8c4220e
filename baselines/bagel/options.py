"""Options of the ``bagel`` family and the checks that run before anything loads.

Every field is typed, so the config loader validates it (unknown keys, wrong types, bad
values are a ``ConfigError`` naming file, line and key). File-system checks happen in
:func:`check_options` when a variant is built: a missing checkout or weights file is a
``FileNotFoundError`` whose one-line message names the config key and the path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hbench.harness.config import ConfigError

from .checkout import check_checkout, check_file, check_weights
from .schedule import GEDIT, GENEVAL, NFE1, NFE6, SamplerConfig

VARIANTS: dict[str, str] = {
    "baseline": "official BAGEL: KV-cached greedy decoding; flow sampler with the eval scripts' CFG settings",
    "kernels": "baseline with hbench's fused kernels (RMSNorm, CFG combine, greedy verify)",
    "spec": "speculative decoding with an EAGLE-style draft head over BAGEL's language model",
    "nfe6": "distilled 6-NFE generator (full or LoRA safetensors), guidance folded in",
    "nfe1": "distilled 1-NFE generator (full or LoRA safetensors), guidance folded in",
}


@dataclass(frozen=True)
class DistilledOptions:
    """A distilled generator: its weights and its own schedules.

    Attributes:
        weights: ``.safetensors`` with either full tensors (names of BAGEL's state dict,
            replacing those tensors) or LoRA pairs (``<module>.lora_A.weight`` /
            ``<module>.lora_B.weight``, optionally with a ``base_model.model.`` prefix).
        lora_scale: LoRA merge factor (``alpha / r``); None reads ``lora_alpha`` and ``r``
            from the file's metadata or from an ``adapter_config.json`` beside it.
        t2i: Sampler for text-to-image (guidance distilled in: scales 1.0).
        edit: Sampler for editing.
    """

    weights: str = ""
    lora_scale: float | None = None
    t2i: SamplerConfig = NFE6
    edit: SamplerConfig = NFE6


@dataclass(frozen=True)
class BagelOptions:
    """Options of the ``bagel`` family.

    Attributes:
        checkout: Local clone of github.com/ByteDance-Seed/Bagel (its code is imported).
        weights: BAGEL-7B-MoT folder (``ema.safetensors``, ``ae.safetensors``, configs, tokenizer).
        t2i: Baseline text-to-image sampler (default: ``gen_images_mp.py``'s GenEval settings).
            A sampler given in a config replaces the default whole: keys it leaves out take
            :class:`SamplerConfig`'s defaults, not the official ones (spell them all out).
        edit: Baseline editing sampler (default: ``gen_images_gedit.py``'s settings).
        t2i_resolution: Generated image side (GenEval script: ``--resolution 1024``).
        t2i_crop_bbox: Crop to ``Image.getbbox()`` before returning (the GenEval script does).
        edit_max_size: Editing input long-edge cap (``ImageTransform(1024, 512, 16)``).
        edit_min_size: Editing input short-edge floor.
        edit_use_vit: Also put the ViT tokens of the input in the context (GEdit script: True).
        max_length_semantics: True: the suite's ``max_new_tokens`` is BAGEL's ``max_length``,
            which counts the start token (``chat(max_length=20)`` yields at most 19 tokens).
        head: EAGLE-style draft head ``.safetensors`` (hbench format) for ``spec``.
        head_skip_prefix: The head does not run over image positions (as it was trained).
        spec_k: Draft tokens per verification round.
        nfe6: The 6-NFE student.
        nfe1: The 1-NFE student.
        attention: ``auto``: flash-attention if installed, else hbench's PyTorch reference;
            ``flash``: require flash-attention; ``reference``: require the reference.
        autocast: Autocast dtype on CUDA (the eval scripts use bfloat16; ``off`` disables).
        kernels: The accelerated variants (spec, nfe6, nfe1) use hbench's fused kernels;
            ``baseline`` never does, ``kernels`` always does.
    """

    checkout: str
    weights: str
    t2i: SamplerConfig = GENEVAL
    edit: SamplerConfig = GEDIT
    t2i_resolution: int = 1024
    t2i_crop_bbox: bool = True
    edit_max_size: int = 1024
    edit_min_size: int = 512
    edit_use_vit: bool = True
    max_length_semantics: bool = True
    head: str = ""
    head_skip_prefix: bool = False
    spec_k: int = 4
    nfe6: DistilledOptions = field(default_factory=DistilledOptions)
    nfe1: DistilledOptions = field(default_factory=lambda: DistilledOptions(t2i=NFE1, edit=NFE1))
    attention: Literal["auto", "flash", "reference"] = "auto"
    autocast: Literal["bfloat16", "float16", "off"] = "bfloat16"
    kernels: bool = True

    def __post_init__(self) -> None:
        if not self.checkout:
            raise ValueError("checkout must name a local clone of ByteDance-Seed/Bagel")
        if not self.weights:
            raise ValueError("weights must name the local BAGEL-7B-MoT folder")
        if self.t2i_resolution < 16 or self.t2i_resolution % 16:
            raise ValueError(
                f"t2i_resolution must be a positive multiple of 16, got {self.t2i_resolution}"
            )
        if not 16 <= self.edit_min_size <= self.edit_max_size:
            raise ValueError(
                f"need 16 <= edit_min_size <= edit_max_size, got {self.edit_min_size}, {self.edit_max_size}"
            )
        if not 1 <= self.spec_k <= 32:
            raise ValueError(f"spec_k must be in 1..32, got {self.spec_k}")
        for name in ("t2i", "nfe6.t2i", "nfe1.t2i"):
            cfg = self.sampler(name)
            if cfg.cfg_img_scale > 1.0:
                raise ValueError(
                    f"{name}.cfg_img_scale must be 1.0: text-to-image has no input image"
                )
        for name in ("edit", "nfe6.edit", "nfe1.edit", "t2i", "nfe6.t2i", "nfe1.t2i"):
            cfg = self.sampler(name)
            if cfg.cfg_img_scale > 1.0 and cfg.cfg_text_scale <= 1.0:
                # BAGEL would run the image branch and discard it (its combine needs text CFG).
                raise ValueError(
                    f"{name}: cfg_img_scale > 1 needs cfg_text_scale > 1 (BAGEL discards the image "
                    "branch otherwise)"
                )
        for name in ("nfe6", "nfe1"):
            d: DistilledOptions = getattr(self, name)
            if d.lora_scale is not None and d.lora_scale <= 0:
                raise ValueError(f"{name}.lora_scale must be > 0, got {d.lora_scale}")

    def sampler(self, name: str) -> SamplerConfig:
        """The sampler ``t2i``, ``edit``, ``nfe6.t2i`` ... by dotted name."""
        obj: object = self
        for part in name.split("."):
            obj = getattr(obj, part)
        assert isinstance(obj, SamplerConfig)
        return obj

    def samplers_for(self, variant: str) -> tuple[SamplerConfig, SamplerConfig]:
        """(text-to-image, editing) samplers of ``variant``."""
        if variant in ("nfe6", "nfe1"):
            d: DistilledOptions = getattr(self, variant)
            return d.t2i, d.edit
        return self.t2i, self.edit


def check_options(variant: str, options: BagelOptions) -> None:
    """Check variant-specific keys and every path before any import or weight load.

    Raises:
        ConfigError: An unknown variant or a key the variant needs is not set.
        FileNotFoundError: The checkout, the weights or a variant's file is missing.
    """
    if variant not in VARIANTS:
        raise ConfigError(f"Unknown bagel variant {variant!r}. Available: {', '.join(VARIANTS)}")
    check_checkout(options.checkout)
    check_weights(options.weights)
    if variant == "spec":
        if not options.head:
            raise ConfigError("bagel:spec needs system.options.head (an EAGLE head .safetensors)")
        check_file(options.head, "system.options.head", "draft head")
    if variant in ("nfe6", "nfe1"):
        d: DistilledOptions = getattr(options, variant)
        key = f"system.options.{variant}.weights"
        if not d.weights:
            raise ConfigError(f"bagel:{variant} needs {key} (distilled generator .safetensors)")
        check_file(d.weights, key, "distilled generator weights")

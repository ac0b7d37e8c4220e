"""The ``diffusers`` family: any diffusers text-to-image pipeline from a local folder.

==========  ======================================================================
variant     what changes against the baseline
==========  ======================================================================
baseline    nothing: the pipeline's standard steps and guidance (or ``steps`` /
            ``guidance_scale``)
few-step    ``few_steps`` steps with the same weights, scheduler and guidance
            (the honest "just take fewer steps" comparison)
scheduler   scheduler swapped for ``scheduler`` (default DPM-Solver++ multistep),
            ``few_steps`` steps, same guidance
lora        a distillation LoRA (LCM-/Hyper-SD-/TCD-LoRA ...) from ``lora_path`` fused
            into the denoiser; ``lora_steps``, ``lora_guidance``, ``lora_scheduler``
distilled   the denoiser replaced by full distilled weights from ``student_path``;
            ``student_steps``, ``student_guidance`` (0: CFG-distilled, guidance off),
            ``student_scheduler``
==========  ======================================================================

The denoiser (``unet`` or ``transformer``) is exposed as the ``generator`` role, so the
profiler's forward hooks count NFE: with classifier-free guidance the pipeline batches the
conditional and unconditional rows, so one step is 1 call and 2 NFE; with guidance off
(``guidance_scale <= 1`` for CFG pipelines) one step is 1 NFE.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from hbench.harness.system import GENERATE, GENERATOR, CapabilityError

VARIANTS: dict[str, str] = {
    "baseline": "the pipeline's standard steps and guidance",
    "few-step": "same weights and scheduler, few_steps steps",
    "scheduler": "scheduler swap (default DPM-Solver++ multistep) with few_steps steps",
    "lora": "distillation LoRA from lora_path fused into the denoiser",
    "distilled": "full distilled denoiser weights from student_path (guidance off by default)",
}
DENOISER_NAMES: tuple[str, ...] = ("unet", "transformer")


@dataclass(frozen=True)
class DiffusersOptions:
    """Options of the diffusers family (paths are local; nothing is fetched from a hub).

    Attributes:
        path: Folder of a pipeline saved with ``save_pretrained`` (``model_index.json``).
        pipeline_class: A diffusers pipeline class name; empty: the one in ``model_index.json``.
        steps: Baseline steps; None: the pipeline's ``num_inference_steps`` default.
        guidance_scale: Baseline guidance; None: the pipeline's default.
        height: Image height; None: the pipeline's default.
        width: Image width; None: the pipeline's default.
        negative_prompt: Passed to every variant that uses guidance.
        few_steps: Steps of the ``few-step`` and ``scheduler`` variants.
        scheduler: Scheduler class of the ``scheduler`` variant.
        scheduler_config: Overrides for that scheduler's config.
        lora_path: LoRA folder or ``.safetensors`` file of the ``lora`` variant.
        lora_scale: Fusion scale of the LoRA.
        lora_steps: Steps of the ``lora`` variant.
        lora_guidance: Guidance of the ``lora`` variant (1.0 or less: off).
        lora_scheduler: Scheduler class of the ``lora`` variant (e.g. ``LCMScheduler``).
        student_path: Folder with the distilled denoiser (``config.json`` + safetensors), or a
            whole pipeline folder whose denoiser subfolder is used.
        student_steps: Steps of the ``distilled`` variant.
        student_guidance: Guidance of the ``distilled`` variant (0: off).
        student_scheduler: Scheduler class of the ``distilled`` variant.
    """

    path: str = ""
    pipeline_class: str = ""
    steps: int | None = None
    guidance_scale: float | None = None
    height: int | None = None
    width: int | None = None
    negative_prompt: str | None = None
    few_steps: int = 4
    scheduler: str = "DPMSolverMultistepScheduler"
    scheduler_config: dict[str, Any] = field(default_factory=dict)
    lora_path: str | None = None
    lora_scale: float = 1.0
    lora_steps: int = 4
    lora_guidance: float = 1.0
    lora_scheduler: str | None = None
    student_path: str | None = None
    student_steps: int = 4
    student_guidance: float = 0.0
    student_scheduler: str | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "few_steps", "lora_steps", "student_steps", "height", "width"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name in ("scheduler", "lora_scheduler", "student_scheduler"):
            value = getattr(self, name)
            if value is not None and not value.endswith("Scheduler"):
                raise ValueError(f"{name} must name a diffusers scheduler class, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """What one variant runs: steps, guidance (None: pipeline default) and swaps."""

    steps: int | None
    guidance: float | None
    scheduler: str | None = None
    lora_path: str | None = None
    student_path: str | None = None


def variant_settings(variant: str, o: DiffusersOptions) -> Settings:
    """The settings of ``variant`` under options ``o`` (no I/O)."""
    base = Settings(o.steps, o.guidance_scale)
    if variant == "baseline":
        return base
    if variant == "few-step":
        return replace(base, steps=o.few_steps)
    if variant == "scheduler":
        return replace(base, steps=o.few_steps, scheduler=o.scheduler)
    if variant == "lora":
        if not o.lora_path:
            raise ValueError(
                "variant 'lora' needs the option lora_path (a local LoRA folder or file)"
            )
        return Settings(o.lora_steps, o.lora_guidance, o.lora_scheduler, lora_path=o.lora_path)
    if variant == "distilled":
        if not o.student_path:
            raise ValueError("variant 'distilled' needs the option student_path (a local folder)")
        return Settings(
            o.student_steps, o.student_guidance, o.student_scheduler, student_path=o.student_path
        )
    raise ValueError(
        f"unknown diffusers variant {variant!r}; expected one of {', '.join(VARIANTS)}"
    )


def denoiser_name(pipe: Any) -> str:
    """Attribute name of the pipeline's denoiser (``unet`` or ``transformer``)."""
    for name in DENOISER_NAMES:
        if getattr(pipe, name, None) is not None:
            return name
    raise ValueError(f"{type(pipe).__name__} has no unet or transformer to count NFE on")


def _scheduler(name: str, config: Any, overrides: dict[str, Any]) -> Any:
    import diffusers

    cls = getattr(diffusers, name, None)
    if cls is None or not hasattr(cls, "from_config"):
        raise ValueError(f"diffusers has no scheduler class {name!r}")
    return cls.from_config(config, **overrides)


def dtype_kwargs(dtype: Any) -> dict[str, Any]:
    """``from_pretrained`` dtype keyword: ``dtype`` where diffusers has it, else ``torch_dtype``."""
    from diffusers.utils import deprecation_utils

    # diffusers renamed torch_dtype to dtype (and deprecated the old name) together with
    # adding _resolve_dtype; older releases accept only torch_dtype.
    return (
        {"dtype": dtype} if hasattr(deprecation_utils, "_resolve_dtype") else {"torch_dtype": dtype}
    )


def load_student(pipe: Any, path: str | Path, dtype: Any) -> Any:
    """The distilled denoiser from ``path``, built with the pipeline denoiser's class."""
    name = denoiser_name(pipe)
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"student_path {path} is not a folder")
    sub = path / name if (path / "model_index.json").is_file() else path
    cls = type(getattr(pipe, name))
    return cls.from_pretrained(
        sub, use_safetensors=True, local_files_only=True, **dtype_kwargs(dtype)
    )


class DiffusersSystem:
    """One variant of a diffusers text-to-image pipeline."""

    family: ClassVar[str] = "diffusers"
    capabilities = frozenset({GENERATE})

    def __init__(self, variant: str, options: DiffusersOptions) -> None:
        if not options.path:
            raise ValueError("the diffusers family needs the option path (a local pipeline folder)")
        if not (Path(options.path) / "model_index.json").is_file():
            raise FileNotFoundError(
                f"{options.path}: no model_index.json (save the pipeline with save_pretrained)"
            )
        self.variant = variant
        self.options = options
        self.settings = variant_settings(variant, options)
        self.pipe: Any = None
        self.steps: int | None = None
        self.guidance: float | None = None

    # 1. Load the pipeline, 2. swap what the variant swaps, 3. resolve defaults.
    def load(self, device: str, dtype: Any) -> None:
        """Load the pipeline from ``path`` and apply the variant's swaps."""
        import diffusers

        o, s = self.options, self.settings
        cls = (
            getattr(diffusers, o.pipeline_class)
            if o.pipeline_class
            else diffusers.DiffusionPipeline
        )
        pipe = cls.from_pretrained(
            o.path, use_safetensors=True, local_files_only=True, **dtype_kwargs(dtype)
        )
        if s.student_path:
            setattr(pipe, denoiser_name(pipe), load_student(pipe, s.student_path, dtype))
        if s.lora_path:
            lora = Path(s.lora_path)
            if not lora.exists():
                raise FileNotFoundError(f"lora_path {lora} does not exist")
            where, weight = (
                (lora.parent, {"weight_name": lora.name}) if lora.is_file() else (lora, {})
            )
            pipe.load_lora_weights(
                str(where), use_safetensors=True, local_files_only=True, **weight
            )
            pipe.fuse_lora(lora_scale=o.lora_scale)
            pipe.unload_lora_weights()  # keeps the fused weights, drops the adapter layers
        if s.scheduler:
            overrides = o.scheduler_config if self.variant == "scheduler" else {}
            pipe.scheduler = _scheduler(s.scheduler, pipe.scheduler.config, overrides)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(device)
        params = inspect.signature(pipe.__call__).parameters
        default_steps = (
            params["num_inference_steps"].default if "num_inference_steps" in params else None
        )
        default_guidance = params["guidance_scale"].default if "guidance_scale" in params else None
        self.steps = s.steps if s.steps is not None else default_steps
        self.guidance = s.guidance if s.guidance is not None else default_guidance

    def _call_kwargs(self, seed: int) -> dict[str, Any]:
        import torch

        kw: dict[str, Any] = {
            "num_inference_steps": self.steps,
            # a CPU generator gives the same noise on every device
            "generator": torch.Generator(device="cpu").manual_seed(seed),
            "output_type": "pil",
        }
        if self.guidance is not None:
            kw["guidance_scale"] = self.guidance
        if self.options.height:
            kw["height"] = self.options.height
        if self.options.width:
            kw["width"] = self.options.width
        if self.options.negative_prompt and (self.guidance or 0) > 1:
            kw["negative_prompt"] = self.options.negative_prompt
        return kw

    def generate(self, prompt: str, seed: int) -> Any:
        """One image for ``prompt`` with a fixed seed."""
        if self.pipe is None:
            raise RuntimeError(
                f"diffusers:{self.variant} is not loaded; call load(device, dtype) first"
            )
        return self.pipe(prompt, **self._call_kwargs(seed)).images[0]

    def understand(self, images: Sequence[Any], prompt: str, max_new_tokens: int) -> Any:
        raise CapabilityError(f"diffusers:{self.variant} only generates images")

    def edit(self, image: Any, instruction: str, seed: int) -> Any:
        raise CapabilityError(f"diffusers:{self.variant} does not edit (text-to-image family)")

    def profiled_modules(self) -> dict[str, Any]:
        """The denoiser as the ``generator`` role (its forward passes are the NFE)."""
        if self.pipe is None:
            return {}
        return {GENERATOR: getattr(self.pipe, denoiser_name(self.pipe))}

    def describe(self) -> dict[str, Any]:
        """JSON-able settings of this variant."""
        out: dict[str, Any] = {
            "variant": self.variant,
            "path": self.options.path,
            **asdict(self.settings),
        }
        if self.pipe is not None:
            out.update(
                pipeline=type(self.pipe).__name__,
                scheduler_class=type(self.pipe.scheduler).__name__,
                steps=self.steps,
                guidance=self.guidance,
            )
        return out


class DiffusersFamily:
    """Registry entry ``diffusers``: builds :class:`DiffusersSystem` variants."""

    name: ClassVar[str] = "diffusers"
    variants: ClassVar[dict[str, str]] = VARIANTS
    reference: ClassVar[str] = "baseline"
    Options: ClassVar[type] = DiffusersOptions

    @classmethod
    def build(cls, variant: str, options: DiffusersOptions) -> DiffusersSystem:
        """Construct (not load) a variant; checks paths and variant options first."""
        return DiffusersSystem(variant, options)

"""The ``diffusers-edit`` family: an InstructPix2Pix-style diffusers editing pipeline.

==========  ======================================================================
variant     what changes against the baseline
==========  ======================================================================
baseline    nothing: ``steps`` (None: the pipeline's default), text and image guidance
few-step    ``few_steps`` steps, same weights, scheduler and guidance
distilled   the UNet replaced by distilled weights from ``student_path``;
            ``student_steps``, guidance off by default (a CFG-distilled student)
==========  ======================================================================

With text and image guidance on (``guidance_scale > 1`` and ``image_guidance_scale >= 1``,
diffusers' rule) the pipeline batches three rows per step (text+image, image only,
unconditional), so one step is 1 UNet call and 3 NFE; with guidance off it is 1 NFE.
The UNet is exposed as the ``generator`` role so the profiler's hooks count that.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from hbench.harness.system import EDIT, GENERATOR, CapabilityError

VARIANTS: dict[str, str] = {
    "baseline": "the pipeline's standard steps with text and image guidance",
    "few-step": "same weights, scheduler and guidance, few_steps steps",
    "distilled": "distilled UNet from student_path, student_steps steps, guidance off by default",
}


@dataclass(frozen=True)
class DiffusersEditOptions:
    """Options of the diffusers-edit family (local paths only).

    Attributes:
        path: Folder of a pipeline saved with ``save_pretrained`` (``model_index.json``).
        pipeline_class: A diffusers pipeline class; empty: the one in ``model_index.json``.
        steps: Baseline steps; None: the pipeline's ``num_inference_steps`` default.
        guidance_scale: Text guidance; None: the pipeline's default (7.5 for InstructPix2Pix).
        image_guidance_scale: Image guidance; None: the pipeline's default (1.5).
        few_steps: Steps of the ``few-step`` variant.
        scheduler: Scheduler class swapped into every variant; empty: the saved one.
        student_path: Folder with the distilled UNet (``config.json`` + safetensors), or a
            whole pipeline folder whose ``unet`` subfolder is used.
        student_steps: Steps of the ``distilled`` variant.
        student_guidance_scale: Text guidance of the ``distilled`` variant (<= 1: off).
        student_image_guidance_scale: Image guidance of the ``distilled`` variant.
    """

    path: str = ""
    pipeline_class: str = ""
    steps: int | None = None
    guidance_scale: float | None = None
    image_guidance_scale: float | None = None
    few_steps: int = 4
    scheduler: str = ""
    student_path: str | None = None
    student_steps: int = 4
    student_guidance_scale: float = 1.0
    student_image_guidance_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("steps", "few_steps", "student_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.scheduler and not self.scheduler.endswith("Scheduler"):
            raise ValueError(
                f"scheduler must name a diffusers scheduler class, got {self.scheduler!r}"
            )


@dataclass(frozen=True)
class EditSettings:
    """What one variant runs (None: the pipeline's default)."""

    steps: int | None
    guidance_scale: float | None
    image_guidance_scale: float | None
    student_path: str | None = None


def variant_settings(variant: str, o: DiffusersEditOptions) -> EditSettings:
    """The settings of ``variant`` under options ``o`` (no I/O)."""
    base = EditSettings(o.steps, o.guidance_scale, o.image_guidance_scale)
    if variant == "baseline":
        return base
    if variant == "few-step":
        return replace(base, steps=o.few_steps)
    if variant == "distilled":
        if not o.student_path:
            raise ValueError("variant 'distilled' needs the option student_path (a local folder)")
        return EditSettings(
            o.student_steps,
            o.student_guidance_scale,
            o.student_image_guidance_scale,
            o.student_path,
        )
    raise ValueError(
        f"unknown diffusers-edit variant {variant!r}; expected one of {', '.join(VARIANTS)}"
    )


def _default(pipe: Any, name: str) -> Any:
    params = inspect.signature(pipe.__call__).parameters
    return params[name].default if name in params else None


class DiffusersEditSystem:
    """One variant of an InstructPix2Pix-style editing pipeline."""

    family: ClassVar[str] = "diffusers-edit"
    capabilities = frozenset({EDIT})

    def __init__(self, variant: str, options: DiffusersEditOptions) -> None:
        if not options.path:
            raise ValueError(
                "the diffusers-edit family needs the option path (a local pipeline folder)"
            )
        if not (Path(options.path) / "model_index.json").is_file():
            raise FileNotFoundError(
                f"{options.path}: no model_index.json (save the pipeline with save_pretrained)"
            )
        self.variant = variant
        self.options = options
        self.settings = variant_settings(variant, options)
        self.pipe: Any = None
        self.resolved: dict[str, Any] = {}

    # 1. Load the pipeline, 2. swap the UNet / scheduler, 3. resolve the call defaults.
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
            o.path, torch_dtype=dtype, use_safetensors=True, local_files_only=True
        )
        if getattr(pipe, "unet", None) is None:
            raise ValueError(f"{o.path}: {type(pipe).__name__} has no unet to edit with")
        if s.student_path:
            student = Path(s.student_path)
            sub = student / "unet" if (student / "model_index.json").is_file() else student
            if not sub.is_dir():
                raise FileNotFoundError(f"student_path {sub} is not a folder")
            pipe.unet = type(pipe.unet).from_pretrained(sub, torch_dtype=dtype, use_safetensors=True,
                                                        local_files_only=True)  # fmt: skip
        if o.scheduler:
            sched_cls = getattr(diffusers, o.scheduler, None)
            if sched_cls is None:
                raise ValueError(f"diffusers has no scheduler class {o.scheduler!r}")
            pipe.scheduler = sched_cls.from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(device)
        self.resolved = {
            "num_inference_steps": s.steps if s.steps is not None else _default(pipe, "num_inference_steps"),
            "guidance_scale": s.guidance_scale if s.guidance_scale is not None else _default(pipe, "guidance_scale"),
            "image_guidance_scale": (
                s.image_guidance_scale if s.image_guidance_scale is not None
                else _default(pipe, "image_guidance_scale")
            ),
        }  # fmt: skip

    def guided(self) -> bool:
        """Whether steps run the three-row text+image guidance (diffusers' condition)."""
        r = self.resolved
        return (r.get("guidance_scale") or 0) > 1.0 and (r.get("image_guidance_scale") or 0) >= 1.0

    def edit(self, image: Any, instruction: str, seed: int) -> Any:
        """Edit ``image`` following ``instruction`` with a fixed seed."""
        import torch

        if self.pipe is None:
            raise RuntimeError(
                f"diffusers-edit:{self.variant} is not loaded; call load(device, dtype) first"
            )
        kw = {k: v for k, v in self.resolved.items() if v is not None}
        # A CPU generator gives the same noise on every device.
        generator = torch.Generator(device="cpu").manual_seed(seed)
        return self.pipe(
            instruction, image=image, generator=generator, output_type="pil", **kw
        ).images[0]

    def understand(self, images: Sequence[Any], prompt: str, max_new_tokens: int) -> Any:
        raise CapabilityError(f"diffusers-edit:{self.variant} only edits images")

    def generate(self, prompt: str, seed: int) -> Any:
        raise CapabilityError(
            f"diffusers-edit:{self.variant} only edits images (use the diffusers family)"
        )

    def profiled_modules(self) -> dict[str, Any]:
        """The UNet as the ``generator`` role (its forward passes are the NFE)."""
        return {} if self.pipe is None else {GENERATOR: self.pipe.unet}

    def describe(self) -> dict[str, Any]:
        """JSON-able settings of this variant."""
        out: dict[str, Any] = {
            "variant": self.variant,
            "path": self.options.path,
            **asdict(self.settings),
        }
        if self.pipe is not None:
            steps = self.resolved["num_inference_steps"]
            per_step = 3 if self.guided() else 1
            out.update(pipeline=type(self.pipe).__name__, scheduler_class=type(self.pipe.scheduler).__name__,
                       resolved=dict(self.resolved), nfe_per_step=per_step,
                       expected_nfe=steps * per_step if steps else None)  # fmt: skip
        return out


class DiffusersEditFamily:
    """Registry entry ``diffusers-edit``: builds :class:`DiffusersEditSystem` variants."""

    name: ClassVar[str] = "diffusers-edit"
    variants: ClassVar[dict[str, str]] = VARIANTS
    reference: ClassVar[str] = "baseline"
    Options: ClassVar[type] = DiffusersEditOptions

    @classmethod
    def build(cls, variant: str, options: DiffusersEditOptions) -> DiffusersEditSystem:
        """Construct (not load) a variant; checks the path and variant options first."""
        return DiffusersEditSystem(variant, options)

"""Image engines of the shapes family: the teacher sampler, the undistilled few-step
sampler and the distilled students, all over one :class:`ShapesDenoiser`.

Every engine draws its starting noise from ``torch.Generator().manual_seed(seed)`` on the
CPU in float32, so the same (prompt, seed) starts every variant from the same noise and
comparisons are paired.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hbench.baselines.runtime.flow import (
    COND,
    NO_IMAGE,
    NO_TEXT,
    FlowSchedule,
    Guidance,
    SamplerStats,
    describe,
    sample_euler,
)

from .network import GeneratorConfig, ShapesDenoiser, TextContext
from .pixels import to_tensor, to_uint8
from .tokens import WordTokenizer, null_tokens_like
from .weights import WEIGHTS_DIR, WeightsError, load_verified

IMAGE_SHAPE = (32, 32, 3)


@dataclass(frozen=True)
class EngineSpec:
    """What a kind of engine runs: which weights, which schedule, which guidance."""

    weights: str
    t2i_schedule: FlowSchedule
    edit_schedule: FlowSchedule
    t2i_guidance: Guidance = field(default_factory=Guidance)
    edit_guidance: Guidance = field(default_factory=Guidance)
    summary: str = ""


# BAGEL's defaults: 50 timesteps, shift 3; text guidance 4 for T2I; text 4 + image 2 with
# text-channel renorm for editing. T2I guidance runs on the whole interval so the baseline
# costs 98 NFE (BAGEL's "100 NFE" accounting), editing 147 NFE. Like BAGEL's loop, the
# baseline runs each CFG branch as its own forward; ``teacher-batched`` stacks them (a
# stronger CPU baseline than BAGEL's, reported beside it).
TEACHER_T2I = Guidance(
    text_scale=4.0, interval=(0.0, 1.0), renorm_type="global", batch_branches=False
)
TEACHER_EDIT = Guidance(
    text_scale=4.0, img_scale=2.0, interval=(0.0, 1.0), renorm_type="text_channel",
    batch_branches=False,
)  # fmt: skip
BATCHED_T2I = replace(TEACHER_T2I, batch_branches=True)
BATCHED_EDIT = replace(TEACHER_EDIT, batch_branches=True)
SPECS: dict[str, EngineSpec] = {
    "teacher": EngineSpec(
        "generator_teacher", FlowSchedule(50, 3.0), FlowSchedule(50, 3.0), TEACHER_T2I, TEACHER_EDIT,
        "50-timestep Euler with CFG, one forward per CFG branch (BAGEL-style baseline sampler)",
    ),
    "teacher-batched": EngineSpec(
        "generator_teacher", FlowSchedule(50, 3.0), FlowSchedule(50, 3.0), BATCHED_T2I,
        BATCHED_EDIT, "the teacher sampler with each step's CFG branches in one batched call",
    ),
    "euler6": EngineSpec(
        "generator_teacher", FlowSchedule(7, 3.0), FlowSchedule(7, 3.0), BATCHED_T2I, BATCHED_EDIT,
        "teacher weights, 6 Euler steps with CFG (batched), no distillation (honest few-step "
        "baseline)",
    ),
    "nfe6": EngineSpec(
        "generator_nfe6", FlowSchedule(7, 3.0), FlowSchedule(7, 3.0),
        summary="6-step student, guidance distilled in (one row per step)",
    ),
    "nfe1": EngineSpec(
        "generator_nfe1", FlowSchedule(2, 3.0), FlowSchedule(2, 3.0),
        summary="1-step student, guidance distilled in",
    ),
}  # fmt: skip


class _BranchVelocity:
    """Adapts the denoiser to the runtime's ``velocity(x, t, branches)`` contract.

    Branch rows: ``cond`` = (text, source), ``no_text`` = (empty text, source),
    ``no_image`` = (text, zero source). Conditions for a branch set are concatenated once;
    the empty text is encoded only if a branch needs it (guidance-distilled students never do).
    """

    def __init__(
        self, net: ShapesDenoiser, text: TextContext, tokens: torch.Tensor, source: torch.Tensor
    ):
        self.net, self.text, self.tokens, self.source = net, text, tokens, source
        self._cache: dict[tuple[str, ...], tuple[TextContext, torch.Tensor]] = {}

    @functools.cached_property
    def null(self) -> TextContext:
        return self.net.encode_text(null_tokens_like(self.tokens))

    def _rows(self, branches: tuple[str, ...]) -> tuple[TextContext, torch.Tensor]:
        if branches not in self._cache:
            parts = {  # lazy: a branch's rows are built only when it is asked for
                COND: lambda: (self.text, self.source),
                NO_TEXT: lambda: (self.null, self.source),
                NO_IMAGE: lambda: (self.text, torch.zeros_like(self.source)),
            }
            ctxs, srcs = zip(*(parts[b]() for b in branches), strict=True)
            ctx = TextContext(
                torch.cat([c.words for c in ctxs]), torch.cat([c.pad for c in ctxs]),
                torch.cat([c.pooled for c in ctxs]),
            )  # fmt: skip
            self._cache[branches] = (ctx, torch.cat(srcs))
        return self._cache[branches]

    def __call__(self, x: torch.Tensor, t: torch.Tensor, branches: Sequence[str]) -> torch.Tensor:
        ctx, src = self._rows(tuple(branches))
        n = len(branches)
        return self.net(x.repeat(n, 1, 1, 1), t.repeat(n), src, text=ctx)


class ShapesImageEngine:
    """One variant's image path: ``load`` / ``generate`` / ``edit`` / ``modules`` / ``describe``."""

    def __init__(self, kind: str, weights_dir: Path | None = None) -> None:
        if kind not in SPECS:
            raise ValueError(f"unknown image engine {kind!r}; expected one of {', '.join(SPECS)}")
        self.kind, self.spec = kind, SPECS[kind]
        self.weights_dir = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
        self.tokenizer = WordTokenizer()
        self.net: ShapesDenoiser | None = None
        self.entry: dict = {}
        self.device, self.dtype = torch.device("cpu"), torch.float32
        self.last_stats = SamplerStats()

    # -- System-facing API -----------------------------------------------------------
    def load(self, device: str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        """Load verified safetensors weights and move them to ``device``/``dtype``."""
        state, entry = load_verified(self.spec.weights, self.weights_dir)
        net = ShapesDenoiser(GeneratorConfig.from_dict(entry["config"]))
        try:
            net.load_state_dict(state)
        except RuntimeError as err:  # checksum fine, tensors not those of this config
            path = self.weights_dir / f"{self.spec.weights}.safetensors"
            raise WeightsError(f"{path}: does not match its manifest config: {err}") from err
        self.net = net.to(device=device, dtype=dtype).eval().requires_grad_(False)
        self.entry, self.device, self.dtype = entry, torch.device(device), dtype

    def generate(self, prompt: str, seed: int) -> np.ndarray:
        """Text-to-image: a ``(32, 32, 3)`` uint8 image."""
        return self.generate_batch([prompt], [seed])[0]

    def edit(self, image: np.ndarray, instruction: str, seed: int) -> np.ndarray:
        """Edit ``image`` (uint8 ``(32, 32, 3)``) following ``instruction``."""
        return self.edit_batch([image], [instruction], [seed])[0]

    def modules(self) -> dict[str, nn.Module]:
        """The denoiser under role ``generator`` (one forward with B rows = B NFE)."""
        return {"generator": self._require()}

    def describe(self) -> dict:
        """JSON-able settings and weights provenance."""
        return {
            "engine": self.kind,
            "summary": self.spec.summary,
            "weights": self.spec.weights + ".safetensors",
            "weights_sha256": self.entry.get("sha256"),
            "t2i": describe(self.spec.t2i_schedule, self.spec.t2i_guidance),
            "edit": describe(self.spec.edit_schedule, self.spec.edit_guidance),
        }

    # -- batched paths (used by evaluation and training scripts) ------------------------
    def generate_batch(self, prompts: list[str], seeds: list[int]) -> list[np.ndarray]:
        """Text-to-image for several prompts in one batch (each row seeded on its own)."""
        source = torch.zeros(len(prompts), 3, 32, 32)
        return self._sample(prompts, source, seeds, self.spec.t2i_schedule, self.spec.t2i_guidance)

    def edit_batch(
        self, images: list[np.ndarray], instructions: list[str], seeds: list[int]
    ) -> list[np.ndarray]:
        """Editing for several (image, instruction) pairs in one batch."""
        for i, img in enumerate(images):
            check_image(img, f"edit image #{i}")
        source = to_tensor(list(images))
        return self._sample(
            instructions, source, seeds, self.spec.edit_schedule, self.spec.edit_guidance
        )

    # -- internals -----------------------------------------------------------------------
    def _require(self) -> ShapesDenoiser:
        if self.net is None:
            raise RuntimeError(
                f"image engine {self.kind!r} is not loaded; call load(device, dtype) first"
            )
        return self.net

    def _sample(
        self,
        texts: list[str],
        source: torch.Tensor,
        seeds: list[int],
        schedule: FlowSchedule,
        guidance: Guidance,
    ) -> list[np.ndarray]:
        net = self._require()
        if len(texts) != len(seeds):
            raise ValueError(f"{len(texts)} texts but {len(seeds)} seeds")
        tokens = self.tokenizer.batch(texts).to(self.device)  # validates words before any compute
        noise = initial_noise(seeds).to(self.device, self.dtype)
        source = source.to(self.device, self.dtype)
        with torch.inference_mode():
            text = net.encode_text(tokens)
            self.last_stats = SamplerStats()
            model = _BranchVelocity(net, text, tokens, source)
            x = sample_euler(model, noise, schedule, guidance, self.last_stats)
        return list(to_uint8(x))


def initial_noise(seeds: list[int]) -> torch.Tensor:
    """``(B, 3, 32, 32)`` float32 noise, row ``i`` from ``manual_seed(seeds[i])`` on the CPU."""
    return torch.stack(
        [torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    )


def check_image(image: np.ndarray, what: str) -> None:
    """Raise ValueError unless ``image`` is a uint8 ``(32, 32, 3)`` array."""
    arr = np.asarray(image)
    if arr.shape != IMAGE_SHAPE or arr.dtype != np.uint8:
        raise ValueError(
            f"{what}: expected a uint8 array of shape {IMAGE_SHAPE}, got {arr.dtype} {arr.shape}"
        )

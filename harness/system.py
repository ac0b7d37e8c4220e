"""The System protocol: what every system under test offers the suites and the profiler.

A *family* (shapes, hf, diffusers, bagel) builds *variants* of one model: a ``baseline``
and its accelerated versions (``spec``, ``nfe6``, ``nfe1`` ...). A run compares the
variants of one family on the same samples. Suites see systems only through this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:  # keep this module importable without torch
    import torch
    from PIL import Image

UNDERSTAND = "understand"
GENERATE = "generate"
EDIT = "edit"
CAPABILITIES: tuple[str, ...] = (UNDERSTAND, GENERATE, EDIT)

# Roles of the modules a system exposes to the profiler.
GENERATOR = "generator"  # the denoiser: its forward passes are the NFE
LANGUAGE_MODEL = "language_model"  # the target LM of text decoding
DRAFTER = "drafter"  # a draft model / draft head of speculative decoding


@dataclass
class TextOutput:
    """Result of ``System.understand``.

    ``stats`` carries decoding statistics when the system has them: ``new_tokens``,
    ``target_forwards``, ``draft_forwards``, ``acceptance_length``, ``accept_per_position``
    (list of rates), and stage seconds ``prefill_s``, ``decode_s``, ``draft_s``, ``verify_s``.
    """

    text: str
    token_ids: list[int] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


class CapabilityError(NotImplementedError):
    """A system was asked for something it does not support."""


@runtime_checkable
class System(Protocol):
    """A system under test. ``__init__`` does no I/O; weights load in :meth:`load`."""

    family: ClassVar[str]
    variant: str
    capabilities: frozenset[str]

    def load(self, device: str, dtype: torch.dtype) -> None:
        """Load weights and move them to ``device``/``dtype``."""

    def understand(
        self, images: Sequence[Image.Image], prompt: str, max_new_tokens: int
    ) -> TextOutput:
        """Answer ``prompt`` about ``images`` (greedy unless the system is configured otherwise)."""

    def generate(self, prompt: str, seed: int) -> Image.Image:
        """Text-to-image for one prompt with a fixed seed."""

    def edit(self, image: Image.Image, instruction: str, seed: int) -> Image.Image:
        """Edit ``image`` following ``instruction`` with a fixed seed."""

    def profiled_modules(self) -> dict[str, torch.nn.Module]:
        """Modules the profiler hooks, by role (``generator``, ``language_model``, ``drafter``)."""

    def describe(self) -> dict[str, Any]:
        """JSON-able settings of this variant (steps, guidance, checkpoints) for the manifest."""


class SystemFamily(Protocol):
    """A registered family: its variants, its options type and a builder."""

    name: ClassVar[str]
    variants: ClassVar[dict[str, str]]  # variant -> one-line description
    reference: ClassVar[str]  # the variant the others are compared with
    # Optional ``bounds: ClassVar[tuple[str, ...]]``: oracles / bounds (quality rows only).
    Options: ClassVar[type]  # dataclass of family options (validated from the config)

    @classmethod
    def build(cls, variant: str, options: Any) -> System:
        """Construct (not load) a variant."""


def require(system: System, capability: str) -> None:
    """Raise CapabilityError unless ``system`` declares ``capability``."""
    if capability not in system.capabilities:
        raise CapabilityError(
            f"{system.family}:{system.variant} does not support {capability!r} "
            f"(it supports: {', '.join(sorted(system.capabilities)) or 'nothing'})"
        )

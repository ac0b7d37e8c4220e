"""The metric interface of the post-pass, its common options and checkpoint helpers.

A metric turns images (and, for alignment metrics, texts) into feature vectors in
batches; the pass caches those vectors per image in the run store, so the model runs
once per image even when the run is re-scored. Then:

* a **sample** metric maps the features of one image (and its prompt) to a number:
  ``score(image_features, text_features) -> (B,)``;
* a **set** metric compares the feature set of one variant with a reference image
  folder's: ``set_value(features, reference)`` and, for two variants paired by sample,
  ``set_difference(reference_variant, other_variant, reference)``.

Weights come from local paths only. A path that does not exist is an error that names it,
raised when the options are built (config load) and again before weights load.
"""

from __future__ import annotations

import dataclasses
import pickle
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image


class MissingCheckpointError(FileNotFoundError):
    """A configured weights file or folder that is not there (the message names it)."""


def require_path(path: str, what: str, *, folder: bool = False) -> Path:
    """``path`` as a Path; raises :class:`MissingCheckpointError` naming it when absent.

    Args:
        path: The configured path.
        what: What the path is for, e.g. ``"hpsv2 checkpoint"``.
        folder: Whether a directory (not a file) is expected.

    Raises:
        MissingCheckpointError: Empty, missing, or of the wrong kind.
    """
    if not path:
        raise MissingCheckpointError(f"{what}: no path given")
    p = Path(path)
    ok = p.is_dir() if folder else p.is_file()
    if not ok:
        kind = "folder" if folder else "file"
        state = "is not a folder" if folder and p.exists() else "not found"
        if not folder and p.is_dir():
            state = "is a folder, expected a file"
        raise MissingCheckpointError(f"{what}: {kind} {state}: {p}")
    return p


def require_files(folder: str, names: tuple[tuple[str, ...], ...], what: str) -> Path:
    """Check a model folder holds, for every group in ``names``, at least one of its files."""
    root = require_path(folder, what, folder=True)
    for group in names:
        if not any((root / n).is_file() for n in group):
            raise MissingCheckpointError(f"{what}: missing file {root / group[0]}")
    return root


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """Tensors of a checkpoint: safetensors, or a torch file loaded with ``weights_only=True``.

    A ``{"state_dict": ...}`` wrapper (HPSv2's format) and a ``module.`` prefix (DDP) are
    removed. Pickled objects other than tensors and plain containers are refused.

    Raises:
        MissingCheckpointError: The file does not exist.
        ValueError: The file is not a weights-only checkpoint.
    """
    import torch

    p = require_path(str(path), "checkpoint")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd: Any = load_file(str(p))
    else:
        try:
            sd = torch.load(str(p), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
            raise ValueError(
                f"{p}: not a weights-only checkpoint ({type(err).__name__}); "
                "convert it to .safetensors"
            ) from err
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"{p}: expected a mapping of tensor names to tensors")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def file_identity(path: str | Path) -> list[Any]:
    """What identifies a weights file or folder cheaply: path, size and mtime of each file.

    Hashing multi-GB checkpoints on every run would cost minutes; size + mtime change
    whenever a file is replaced, which is what invalidates cached features.
    """
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    out: list[Any] = []
    for f in files:
        st = f.stat()
        out.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    return out


@dataclass(frozen=True, kw_only=True)
class MetricOptions:
    """Options every metric has.

    Attributes:
        batch_size: Images per forward pass.
        device: ``cpu``, ``cuda`` or ``cuda:N``; empty: the run's device.
    """

    batch_size: int = 16
    device: str = ""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        d = self.device
        if d and not (d == "cpu" or d == "cuda" or d.startswith("cuda:")):
            raise ValueError(f"device must be cpu, cuda or cuda:N (or empty), got {d!r}")


@dataclass(frozen=True, kw_only=True)
class TextMetricOptions(MetricOptions):
    """Options of prompt-image metrics.

    Attributes:
        text_keys: Record ``output`` fields tried in order for the text (GenEval records
            have ``prompt``; GEdit records have ``instruction``, which is not a caption,
            so editing suites are left out unless it is named here).
    """

    text_keys: tuple[str, ...] = ("prompt",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.text_keys:
            raise ValueError("text_keys must name at least one record output field")


def check_paths(options: Any, fields: dict[str, str]) -> None:
    """Raise ``ValueError`` naming the first configured path that is missing.

    Args:
        options: The options dataclass.
        fields: Field name -> ``"file"`` or ``"folder"`` (empty values are skipped).
    """
    for name, kind in fields.items():
        value = getattr(options, name)
        if not value:
            continue
        try:
            require_path(value, name, folder=kind == "folder")
        except MissingCheckpointError as err:
            raise ValueError(str(err)) from err


class Metric(ABC):
    """Base class of metrics; subclasses set the class constants and the feature methods."""

    Options: ClassVar[type] = MetricOptions
    kind: ClassVar[str] = "sample"  # "sample" (per image) or "set" (per variant)
    needs_text: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    description: ClassVar[str] = ""
    # Options that change how features become values, not the features (kept out of the
    # cache fingerprint so changing them reuses the cached features).
    score_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()
        self.device = "cpu"
        self.loaded = False

    def weight_paths(self) -> dict[str, str]:
        """Option name -> configured weights path (files or folders) this metric loads."""
        return {}

    def check(self) -> None:
        """Fail before any weights load when a weights path is missing (names the path)."""
        for name, path in self.weight_paths().items():
            if path and not Path(path).exists():
                raise MissingCheckpointError(f"{type(self).__name__} {name}: not found: {path}")

    def identity(self) -> dict[str, Any]:
        """Everything that determines the cached features: class, options, weight files."""
        opts = {
            k: v
            for k, v in dataclasses.asdict(self.options).items()
            if k not in ("batch_size", "device", "text_keys", *self.score_options)
        }
        files = {k: file_identity(v) for k, v in self.weight_paths().items() if v}
        return {"metric": type(self).__qualname__, "options": opts, "files": files}

    def load(self, device: str) -> None:
        """Build the model(s) on ``device`` (called once, only when features are missing)."""
        self.device = device
        self.loaded = True

    @abstractmethod
    def image_features(self, images: list[Image.Image]) -> np.ndarray:
        """Feature vectors of a batch of RGB images, shape ``(B, D)``, float32."""

    def text_features(self, texts: list[str]) -> np.ndarray:
        """Feature vectors of a batch of texts, shape ``(B, D)`` (alignment metrics)."""
        raise NotImplementedError(f"{type(self).__name__} takes no text")


class SampleMetric(Metric):
    """A metric with one value per image."""

    kind: ClassVar[str] = "sample"

    @abstractmethod
    def score(self, image_features: np.ndarray, text_features: np.ndarray | None) -> np.ndarray:
        """Per-sample values, shape ``(B,)``, from cached features."""


class SetMetric(Metric):
    """A metric of a set of images against a reference set (FID, KID)."""

    kind: ClassVar[str] = "set"

    @abstractmethod
    def set_value(self, features: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
        """The metric of one variant's features against the reference folder's features."""

    @abstractmethod
    def set_difference(
        self, base: np.ndarray, other: np.ndarray, reference: np.ndarray
    ) -> dict[str, Any]:
        """``other - base`` with a paired bootstrap interval; rows of base/other are paired."""


def to_rgb(image: Image.Image) -> Image.Image:
    """The image in RGB mode (PNG palette / alpha images included)."""
    return image if image.mode == "RGB" else image.convert("RGB")

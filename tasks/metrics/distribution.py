"""``fid`` and ``kid``: distribution distances of a variant's images to a reference folder.

Values go through torchmetrics (``FrechetInceptionDistance``, ``KernelInceptionDistance``)
with the cached features handed to them by :class:`Precomputed`, a feature "extractor"
that returns its input: torchmetrics accepts any ``nn.Module`` returning ``(N, d)``, and
the features were already extracted (and cached) by :mod:`.inception`.

Comparisons: for two variants whose images are paired by sample (same prompt, same seed),
``set_difference`` gives ``other - base`` and a percentile interval from a paired
bootstrap: sample indices are resampled once per round and used for both variants; the
reference folder's features stay fixed. The rounds use closed forms on the features:

* FID: ``|mu - mu_r|^2 + tr(S) + tr(S_r) - 2 tr sqrt(S_r^1/2 S S_r^1/2)``, the trace term
  from the eigenvalues of the smaller of ``Y S_r Y^T`` (n x n) and ``R S R`` (d x d);
  equal to torchmetrics' value on the full set (tested).
* KID: the full-set unbiased MMD^2 with the polynomial kernel ``(x.y/d + 1)^3``; the
  reference-reference term cancels in the difference. torchmetrics' per-variant KID
  averages random subsets (``subsets`` of ``subset_size``, clipped to the set sizes),
  so its values can differ slightly from the full-set difference the interval is for.

Small sets: FID's covariance needs more images than feature dimensions (2048 for
Inception) to be full-rank; below ``min_images`` the value is still computed and flagged
``too_small`` (biased upward; a difference at equal n is still informative). KID is
unbiased but noisy on small sets (``min_images`` 1000, torchmetrics' default subset size).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from PIL import Image

from .base import MetricOptions, SetMetric, require_path
from .inception import FEATURE_KINDS, build_features, check_feature_checkpoint

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass(frozen=True, kw_only=True)
class DistributionOptions(MetricOptions):
    """Options of ``fid`` / ``kid``.

    Attributes:
        reference: Folder of reference images (searched recursively, sorted).
        checkpoint: Feature extractor weights: a file for ``inception-fid``/``inception``,
            a transformers CLIP folder for ``clip``.
        features: ``inception-fid`` (published-FID features), ``inception``
            (torchvision ImageNet weights) or ``clip``.
        processor: CLIP processor folder (``clip`` only; empty: the model folder).
        min_images: Below this many images (either set) the value is flagged ``too_small``.
        resamples: Bootstrap rounds of the paired difference (0: no interval).
        confidence: Two-sided level of the interval.
        seed: Seed of the bootstrap (and of KID's subset draws).
    """

    reference: str
    checkpoint: str
    features: Literal["inception-fid", "inception", "clip"] = "inception-fid"
    processor: str = ""
    min_images: int = 2048
    resamples: int = 200
    confidence: float = 0.95
    seed: int = 0
    batch_size: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min_images < 2 or self.resamples < 0 or not 0 < self.confidence < 1:
            raise ValueError("min_images must be >= 2, resamples >= 0, 0 < confidence < 1")
        try:
            require_path(self.reference, "reference", folder=True)
            check_feature_checkpoint(self.features, self.checkpoint, self.processor)
        except FileNotFoundError as err:
            raise ValueError(str(err)) from err


@dataclass(frozen=True, kw_only=True)
class KIDOptions(DistributionOptions):
    """Options of ``kid`` (see :class:`DistributionOptions`).

    Attributes:
        subsets: torchmetrics' number of random subsets.
        subset_size: torchmetrics' subset size (clipped to the smaller set).
    """

    min_images: int = 1000
    resamples: int = 1000
    subsets: int = 100
    subset_size: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.subsets < 1 or self.subset_size < 2:
            raise ValueError("subsets must be >= 1 and subset_size >= 2")


class Precomputed(torch.nn.Module):
    """A torchmetrics feature "extractor" for features extracted beforehand (identity)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The features themselves, ``(N, d)``."""
        return x


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


def fid_value(features: np.ndarray, reference: np.ndarray) -> float:
    """FID of two feature sets through torchmetrics' ``FrechetInceptionDistance``."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=Precomputed(features.shape[1]))
    fid.update(_t(reference), real=True)
    fid.update(_t(features), real=False)
    return float(fid.compute())


def kid_value(
    features: np.ndarray, reference: np.ndarray, subsets: int, subset_size: int, seed: int
) -> tuple[float, float, int]:
    """torchmetrics KID (mean, std over subsets, subset size used); seeded, global RNG kept."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(features), len(reference))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(
            feature=Precomputed(features.shape[1]), subsets=subsets, subset_size=size
        )
    kid.update(_t(reference), real=True)
    kid.update(_t(features), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std), size


class FrechetReference:
    """Mean, covariance and covariance square root of the reference features."""

    def __init__(self, reference: np.ndarray, device: str = "cpu") -> None:
        r = _t(reference).to(device)
        self.mu = r.mean(0)
        self.cov = torch.cov(r.T).reshape(r.shape[1], r.shape[1])
        vals, vecs = torch.linalg.eigh(self.cov)
        self.sqrt = (vecs * vals.clamp(min=0).sqrt()) @ vecs.T
        self.trace = float(torch.trace(self.cov))

    def distance(self, x: torch.Tensor, counts: torch.Tensor) -> float:
        """FID of ``x`` whose row ``i`` appears ``counts[i]`` times, against the reference."""
        keep = counts > 0
        x, c = x[keep], counts[keep].to(x.dtype)
        n = float(c.sum())
        mu = (c @ x) / n
        y = (x - mu) * (c / (n - 1)).sqrt()[:, None]  # cov = y^T y
        if y.shape[0] < y.shape[1]:
            small = y @ self.cov @ y.T  # same non-zero spectrum as S_r^1/2 S S_r^1/2
        else:
            small = self.sqrt @ (y.T @ y) @ self.sqrt
        root = torch.linalg.eigvalsh(small).clamp(min=0).sqrt().sum()
        return float(((mu - self.mu) ** 2).sum() + (y * y).sum() + self.trace - 2 * root)


def _kid_terms(x: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel matrix of ``x`` and each row's mean kernel value against the reference."""
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_xr = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for start in range(0, reference.shape[0], 4096):  # bounded memory for big folders
        k_xr += ((x @ reference[start : start + 4096].T / d + 1.0) ** 3).sum(1)
    return k_xx, k_xr / reference.shape[0]


def _kid_full(k_xx: torch.Tensor, k_xr: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Full-set unbiased MMD^2 minus the reference term, per row of ``counts`` (R, n)."""
    n = counts.shape[1]
    pairs = ((counts @ k_xx) * counts).sum(1) - counts @ torch.diagonal(k_xx)
    return pairs / (n * (n - 1)) - 2.0 * (counts @ k_xr) / n


def bootstrap_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """``(resamples, n)`` multiplicities of resampled indices (row 0 is not the observed set)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    return np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)


def _interval(dist: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    if dist.size == 0:
        return None, None
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(dist, [a, 1.0 - a])
    return float(lo), float(hi)


class _DistributionMetric(SetMetric):
    """Shared parts of FID and KID: the feature extractor and the reference images."""

    higher_is_better: ClassVar[bool] = False
    score_options: ClassVar[tuple[str, ...]] = (
        "reference", "min_images", "resamples", "confidence", "seed", "subsets", "subset_size",
    )  # fmt: skip

    def __init__(self, options: DistributionOptions) -> None:
        super().__init__(options)
        self.extractor: Any = None

    def weight_paths(self) -> dict[str, str]:
        return {"checkpoint": self.options.checkpoint, "processor": self.options.processor}

    def check(self) -> None:
        o = self.options
        require_path(o.reference, f"{type(self).__name__} reference", folder=True)
        check_feature_checkpoint(o.features, o.checkpoint, o.processor)
        if not self.reference_images():
            raise FileNotFoundError(f"reference folder {o.reference} holds no images")

    def reference_images(self) -> list[Path]:
        """The reference folder's images, sorted (recursive)."""
        root = Path(self.options.reference)
        return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)

    def load(self, device: str) -> None:
        o = self.options
        self.extractor = build_features(o.features, o.checkpoint, o.processor, device)
        super().load(device)

    def image_features(self, images: list[Image.Image]) -> np.ndarray:
        return self.extractor(images)

    def _flags(self, n: int, n_ref: int) -> dict[str, Any]:
        m = self.options.min_images
        return {"n": n, "n_reference": n_ref, "min_images": m, "too_small": min(n, n_ref) < m}


class FIDMetric(_DistributionMetric):
    """Fréchet distance of a variant's image features to the reference folder's."""

    Options: ClassVar[type] = DistributionOptions
    description: ClassVar[str] = "FID against a reference folder (torchmetrics, local extractor)"

    def set_value(self, features: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
        out = {
            "value": fid_value(features, reference),
            **self._flags(len(features), len(reference)),
        }
        if out["too_small"]:
            out["note"] = (
                f"fewer than {self.options.min_images} images: the covariance is rank-deficient "
                "and FID is biased upward; compare variants at equal n only"
            )
        return out

    def set_difference(
        self, base: np.ndarray, other: np.ndarray, reference: np.ndarray
    ) -> dict[str, Any]:
        o = self.options
        ref = FrechetReference(reference, self.device if self.loaded else "cpu")
        xb, xo = _t(base).to(ref.mu.device), _t(other).to(ref.mu.device)
        ones = torch.ones(len(base), dtype=torch.float64, device=ref.mu.device)
        observed = ref.distance(xo, ones) - ref.distance(xb, ones)
        dist = []
        for c in bootstrap_counts(len(base), o.resamples, o.seed):
            ct = torch.from_numpy(c).to(ref.mu.device)
            dist.append(ref.distance(xo, ct) - ref.distance(xb, ct))
        lo, hi = _interval(np.asarray(dist), o.confidence)
        return {"mean_diff": observed, "ci_low": lo, "ci_high": hi, "n": len(base),
                "confidence": o.confidence, "resamples": o.resamples,
                "too_small": min(len(base), len(reference)) < o.min_images}  # fmt: skip


class KIDMetric(_DistributionMetric):
    """Kernel (polynomial MMD^2) distance of a variant's image features to the reference's."""

    Options: ClassVar[type] = KIDOptions
    description: ClassVar[str] = "KID against a reference folder (torchmetrics, local extractor)"

    def set_value(self, features: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
        o = self.options
        mean, std, size = kid_value(features, reference, o.subsets, o.subset_size, o.seed)
        return {"value": mean, "std": std, "subsets": o.subsets, "subset_size": size,
                **self._flags(len(features), len(reference))}  # fmt: skip

    def set_difference(
        self, base: np.ndarray, other: np.ndarray, reference: np.ndarray
    ) -> dict[str, Any]:
        o = self.options
        r = _t(reference)
        kb, rb = _kid_terms(_t(base), r)
        ko, ro = _kid_terms(_t(other), r)
        n = len(base)
        counts = torch.from_numpy(
            np.concatenate([np.ones((1, n)), bootstrap_counts(n, o.resamples, o.seed)])
        )
        diffs = (_kid_full(ko, ro, counts) - _kid_full(kb, rb, counts)).numpy()
        lo, hi = _interval(diffs[1:], o.confidence)
        return {"mean_diff": float(diffs[0]), "ci_low": lo, "ci_high": hi, "n": n,
                "confidence": o.confidence, "resamples": o.resamples,
                "estimator": "full-set unbiased MMD^2 (all images, no subsets)",
                "too_small": min(n, len(reference)) < o.min_images}  # fmt: skip


__all__ = ["FEATURE_KINDS", "DistributionOptions", "FIDMetric", "KIDMetric", "KIDOptions"]

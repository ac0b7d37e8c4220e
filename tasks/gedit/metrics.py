"""Automatic metrics beside the judge: CLIP directional similarity and region preservation.

* ``clip_dir``: CLIP directional similarity (InstructPix2Pix): cosine between the image
  direction E_img(edited) - E_img(source) and the caption direction E_txt(target caption) -
  E_txt(source caption), embeddings from an open_clip model. Needs captions, so it exists
  for the shapes world (captions of the source and expected scenes) and not for
  GEdit-Bench, which ships none.
* ``preserve_ssim`` / ``preserve_psnr`` / ``preserve_lpips``: how well the pixels that
  should stay did stay. "Kept" is the unedited region when a mask is known (shapes world),
  else the whole image. The edited region of the edited image is first pasted back from the
  source, so windowed measures (SSIM's 11x11 window, LPIPS's receptive fields) do not see
  the intended change at the region's border; then torchmetrics SSIM (its map averaged over
  the kept pixels, float64), PSNR (over the kept pixels; identical pixels give infinity,
  reported as ``psnr_max_db``) and LPIPS. LPIPS runs only when its backbone's ImageNet
  weights are already in the torch hub cache (nothing is downloaded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

LPIPS_BACKBONES = {
    "alex": "AlexNet_Weights",
    "vgg": "VGG16_Weights",
    "squeeze": "SqueezeNet1_1_Weights",
}


@dataclass(frozen=True)
class MetricsConfig:
    """Where the metric models come from; empty ``clip_model`` turns ``clip_dir`` off."""

    clip_model: str = ""  # open_clip name ("local-dir:/path" for a saved folder, or "ViT-B-32")
    clip_pretrained: str = ""  # checkpoint path for a named architecture (ignored for local-dir)
    lpips_net: str = "alex"  # LPIPS backbone: alex | vgg | squeeze
    psnr_max_db: float = 100.0
    device: str = "cpu"


def lpips_weights_file(net: str) -> Path:
    """Where torchvision keeps the ImageNet weights LPIPS's ``net`` backbone loads."""
    import torch
    import torchvision

    if net not in LPIPS_BACKBONES:
        raise ValueError(
            f"unknown LPIPS backbone {net!r}; expected one of {', '.join(LPIPS_BACKBONES)}"
        )
    url = getattr(torchvision.models, LPIPS_BACKBONES[net]).DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def _tensor(image: Image.Image):
    import torch

    # float64: in float32 SSIM's variance terms cancel badly, identical images score 0.998
    arr = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0)


class EditMetrics:
    """Computes the automatic metrics of one edit; models load on first use."""

    def __init__(self, config: MetricsConfig | None = None) -> None:
        self.config = config or MetricsConfig()
        self.unavailable: dict[str, str] = {}
        self._clip: Any = None
        self._lpips: Any = None
        self._loaded = False

    def availability(self) -> dict[str, str]:
        """Metrics that are off and why, decided from the config and files (nothing loads)."""
        out = {}
        if not self.config.clip_model:
            out["clip_dir"] = "no CLIP model configured (metrics option clip_model)"
        weights = lpips_weights_file(self.config.lpips_net)
        if not weights.is_file():
            out["preserve_lpips"] = f"LPIPS backbone weights not found at {weights}"
        return out

    def load(self) -> None:
        """Build the CLIP and LPIPS models that are available locally; note the others."""
        if self._loaded:
            return
        self._loaded = True
        cfg = self.config
        if cfg.clip_model:
            import open_clip

            pretrained = (
                None if cfg.clip_model.startswith("local-dir:") else (cfg.clip_pretrained or None)
            )
            model, _, preprocess = open_clip.create_model_and_transforms(cfg.clip_model, pretrained=pretrained,
                                                                         device=cfg.device)  # fmt: skip
            self._clip = (model.eval(), preprocess, open_clip.get_tokenizer(cfg.clip_model))
        else:
            self.unavailable["clip_dir"] = "no CLIP model configured (metrics option clip_model)"
        weights = lpips_weights_file(cfg.lpips_net)
        if weights.is_file():
            from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

            self._lpips = LearnedPerceptualImagePatchSimilarity(
                net_type=cfg.lpips_net, normalize=True
            ).to(cfg.device)
        else:
            self.unavailable["preserve_lpips"] = f"LPIPS backbone weights not found at {weights}"

    def describe(self) -> dict[str, Any]:
        """Settings and the metrics that are off, with why."""
        self.load()
        return {"config": self.config.__dict__, "unavailable": dict(self.unavailable)}

    def clip_direction(
        self, source: Image.Image, edited: Image.Image, src_caption: str, tgt_caption: str
    ) -> float:
        """CLIP directional similarity of one edit."""
        import torch
        import torch.nn.functional as F

        model, preprocess, tokenizer = self._clip
        dev = self.config.device
        with torch.inference_mode():
            imgs = torch.stack(
                [preprocess(source.convert("RGB")), preprocess(edited.convert("RGB"))]
            ).to(dev)
            img = F.normalize(model.encode_image(imgs).float(), dim=-1)
            txt = F.normalize(
                model.encode_text(tokenizer([src_caption, tgt_caption]).to(dev)).float(), dim=-1
            )
        return float(F.cosine_similarity(img[1] - img[0], txt[1] - txt[0], dim=0))

    def compute(self, source: Image.Image, edited: Image.Image, edited_region: np.ndarray | None = None,
                captions: tuple[str, str] | None = None) -> dict[str, float]:  # fmt: skip
        """Metrics of one edit; ``edited_region`` marks pixels the edit may change."""
        import torch
        from torchmetrics.functional.image import (
            peak_signal_noise_ratio,
            structural_similarity_index_measure,
        )

        self.load()
        if edited.size != source.size:
            edited = edited.resize(source.size, Image.BICUBIC)
        src, ed = _tensor(source), _tensor(edited)
        keep = torch.ones(src.shape[-2:], dtype=torch.bool)
        if edited_region is not None:
            keep = ~torch.from_numpy(np.asarray(edited_region, dtype=bool))
        out: dict[str, float] = {}
        if captions is not None and self._clip is not None:
            out["clip_dir"] = self.clip_direction(source, edited, *captions)
        if keep.any():
            pasted = torch.where(keep, ed, src)  # the intended change removed
            _, ssim_map = structural_similarity_index_measure(
                pasted, src, data_range=1.0, return_full_image=True
            )
            out["preserve_ssim"] = float(ssim_map[0][:, keep].mean())
            psnr = float(peak_signal_noise_ratio(ed[0][:, keep], src[0][:, keep], data_range=1.0))
            out["preserve_psnr"] = psnr if math.isfinite(psnr) else self.config.psnr_max_db
            if self._lpips is not None:
                dev = self.config.device
                out["preserve_lpips"] = float(
                    self._lpips(pasted.float().to(dev), src.float().to(dev))
                )
                self._lpips.reset()
        return out

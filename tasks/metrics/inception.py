"""Image feature extractors for FID / KID, each from a local checkpoint.

* ``inception-fid``: the FID Inception network (the TF "2015-12-05" graph ported to
  PyTorch, as pytorch-fid and torch-fidelity use; weights file
  ``pt_inception-2015-12-05-*.pth``, a plain state dict loaded with ``weights_only=True``):
  torchvision's Inception3 layout with 1008 classes and the FID pooling blocks (average
  pools that exclude padding, a max pool in the last block); inputs resized to 299x299
  bilinearly and scaled to [-1, 1]; features = the 2048-d pool3 vector. These are the
  features published FIDs use.
* ``inception``: torchvision's ImageNet Inception v3 (its own state dict, e.g.
  ``inception_v3_google-*.pth`` or a safetensors copy), ImageNet normalisation,
  ``transform_input`` as torchvision sets it for those weights; 2048-d pool features.
  FIDs from it are self-consistent but not comparable with published numbers.
* ``clip``: the projected image embedding of a transformers CLIP model (a local folder),
  as "CLIP FID" / FD-CLIP uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .base import load_state_dict, require_path, to_rgb
from .models import ClipFeatures, as_numpy, build_hf_clip

INCEPTION_SIZE = 299
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _to_batch(images: list[Image.Image], size: int) -> torch.Tensor:
    """RGB images as a float batch in [0, 1], resized bilinearly to ``size`` x ``size``."""
    arrs = [np.asarray(to_rgb(im), dtype=np.float32) / 255.0 for im in images]
    out = []
    for a in arrs:
        t = torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0)
        out.append(F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False))
    return torch.cat(out)


def _fid_blocks() -> tuple[list[type], type]:
    """torchvision's Inception blocks with the FID graph's pooling, and the last E block.

    torchvision builds Mixed_7b and Mixed_7c from one E class; the FID graph's 7c pools
    with a max pool, so its class is returned separately.
    """
    from torchvision.models import inception as tv

    def avg3(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)

    class FIDInceptionA(tv.InceptionA):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b1 = self.branch1x1(x)
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return torch.cat([b1, b5, b3, self.branch_pool(avg3(x))], 1)

    class FIDInceptionC(tv.InceptionC):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b1 = self.branch1x1(x)
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            bd = x
            for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                          self.branch7x7dbl_4, self.branch7x7dbl_5):  # fmt: skip
                bd = layer(bd)
            return torch.cat([b1, b7, bd, self.branch_pool(avg3(x))], 1)

    def e_branches(block: Any, x: torch.Tensor) -> list[torch.Tensor]:
        b1 = block.branch1x1(x)
        b3 = block.branch3x3_1(x)
        b3 = torch.cat([block.branch3x3_2a(b3), block.branch3x3_2b(b3)], 1)
        bd = block.branch3x3dbl_2(block.branch3x3dbl_1(x))
        bd = torch.cat([block.branch3x3dbl_3a(bd), block.branch3x3dbl_3b(bd)], 1)
        return [b1, b3, bd]

    class FIDInceptionE1(tv.InceptionE):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([*e_branches(self, x), self.branch_pool(avg3(x))], 1)

    class FIDInceptionE2(tv.InceptionE):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pool = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
            return torch.cat([*e_branches(self, x), self.branch_pool(pool)], 1)

    blocks = [tv.BasicConv2d, FIDInceptionA, tv.InceptionB, FIDInceptionC, tv.InceptionD,
              FIDInceptionE1, tv.InceptionAux]  # fmt: skip
    return blocks, FIDInceptionE2


class InceptionFeatures:
    """2048-d pool features of an Inception v3 (``fid=True``: the FID graph)."""

    def __init__(self, checkpoint: str, device: str, *, fid: bool) -> None:
        from torchvision.models.inception import Inception3

        state = load_state_dict(checkpoint)
        classes = int(state["fc.weight"].shape[0]) if "fc.weight" in state else 1000
        aux = any(k.startswith("AuxLogits.") for k in state)
        blocks, last = _fid_blocks() if fid else (None, None)
        net = Inception3(
            num_classes=classes,
            aux_logits=aux,
            transform_input=not fid,  # torchvision's ImageNet weights expect it on
            inception_blocks=blocks,
            init_weights=False,
        )
        if last is not None:
            net.Mixed_7c = last(2048)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as err:
            kind = "FID Inception" if fid else "torchvision Inception v3"
            raise ValueError(f"{checkpoint}: not a {kind} state dict: {str(err)[:300]}") from err
        net.fc = torch.nn.Identity()
        self.net = net.to(device).eval()
        self.fid = fid
        self.device = device
        self.dim = 2048

    @torch.inference_mode()
    def __call__(self, images: list[Image.Image]) -> np.ndarray:
        x = _to_batch(images, INCEPTION_SIZE).to(self.device)
        if self.fid:
            x = 2.0 * x - 1.0
        else:
            mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
            x = (x - mean) / std
        return as_numpy(self.net(x))


class ClipTowerFeatures:
    """Projected image embeddings of a local transformers CLIP model (not normalised)."""

    def __init__(self, model_dir: str, processor_dir: str, device: str) -> None:
        model, self.processor = build_hf_clip(model_dir, processor_dir, "clip features", device)
        self.model = ClipFeatures(model)
        self.device = device
        self.dim = int(model.config.projection_dim)

    @torch.inference_mode()
    def __call__(self, images: list[Image.Image]) -> np.ndarray:
        px = self.processor(images=[to_rgb(im) for im in images], return_tensors="pt")
        return as_numpy(self.model.get_image_features(px["pixel_values"].to(self.device)))


FEATURE_KINDS = ("inception-fid", "inception", "clip")


def check_feature_checkpoint(kind: str, checkpoint: str, processor: str) -> None:
    """Raise :class:`MissingCheckpointError` naming the missing weights of ``kind``."""
    from .models import check_hf_clip

    if kind == "clip":
        check_hf_clip(checkpoint, processor, "clip features")
    else:
        require_path(checkpoint, f"{kind} checkpoint")


def build_features(kind: str, checkpoint: str, processor: str, device: str) -> Any:
    """The extractor ``kind`` (one of :data:`FEATURE_KINDS`) on ``device``."""
    if kind == "clip":
        return ClipTowerFeatures(checkpoint, processor, device)
    if kind in ("inception", "inception-fid"):
        return InceptionFeatures(checkpoint, device, fid=kind == "inception-fid")
    raise ValueError(f"unknown feature extractor {kind!r}; expected one of {FEATURE_KINDS}")

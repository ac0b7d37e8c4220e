"""A perceptual term for the shapes world: per-pixel classification onto the palette.

Plain MSE from noise to a sample makes a 1-step student paint blends of colours
(calibration note). Here every pixel's logits over the reference colours (the six palette
colours and the backgrounds) are ``-||x - c||^2 / tau``; the target is the reference
colour nearest the teacher's pixel. Cross-entropy pushes each pixel towards the right
colour and away from its neighbours by a margin, which MSE alone does not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hbench.worlds.shapes.scene import BACKGROUNDS, COLORS, PALETTE

_REFS = [PALETTE[c] for c in COLORS] + list(BACKGROUNDS.values())
REFERENCE_COLORS = torch.tensor(_REFS, dtype=torch.float32) / 127.5 - 1.0  # (R, 3) in [-1, 1]


def palette_logits(x: torch.Tensor, tau: float) -> torch.Tensor:
    """``(B, 3, H, W)`` images in [-1, 1] -> ``(B, R, H, W)`` colour logits."""
    refs = REFERENCE_COLORS.to(x)
    d2 = (x[:, None] - refs[None, :, :, None, None]).pow(2).sum(2)
    return -d2 / tau


def palette_loss(pred: torch.Tensor, target: torch.Tensor, tau: float = 0.05) -> torch.Tensor:
    """Mean cross-entropy of ``pred``'s pixel colours against ``target``'s nearest colours."""
    with torch.no_grad():
        labels = palette_logits(target, 1.0).argmax(1)
    return F.cross_entropy(palette_logits(pred, tau), labels)

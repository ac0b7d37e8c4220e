"""Image <-> tensor conversion of the shapes generator (uint8 HWC <-> float CHW in [-1, 1])."""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(images: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """uint8 ``(B,32,32,3)`` -> float ``(B,3,32,32)`` in [-1, 1]."""
    arr = np.asarray(images, dtype=np.float32)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous() / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float ``(B,3,32,32)`` in [-1, 1] -> uint8 ``(B,32,32,3)``."""
    y = ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 1).cpu().numpy()

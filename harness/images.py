"""Reading image files the user or a run supplies: RGB, 16-bit aware, errors naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Integer modes wider than 8 bits: PIL's convert("RGB") clips them (16-bit PNGs turn white).
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class ImageFileError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


def to_rgb8(im: Image.Image) -> Image.Image:
    """``im`` as 8-bit RGB; 16-bit grey is scaled (value / 257), not clipped."""
    if im.mode in _WIDE_MODES:
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(np.round(arr * (255.0 / peak)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValueError("float image with non-finite pixels")
        return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8)).convert("RGB")
    return im.convert("RGB")


def open_rgb(path: str | Path, *, exif_transpose: bool = False) -> Image.Image:
    """Decode an image file fully as 8-bit RGB; ImageFileError naming the file otherwise."""
    try:
        with Image.open(path) as im:
            im.load()  # decode now: a truncated file fails here, with its name attached
            if exif_transpose:
                im = ImageOps.exif_transpose(im)
            return to_rgb8(im)
    except FileNotFoundError:
        raise
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError,
            Image.DecompressionBombError) as err:  # fmt: skip
        raise ImageFileError(f"{path}: cannot decode image: {err}") from err

"""Image files read by the harness and the GenEval scorer: 16-bit scaled, broken files named."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hbench.harness.images import ImageFileError, open_rgb
from hbench.harness.store import image_warnings


def test_16bit_grey_is_scaled_not_clipped(tmp_path):
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    Image.fromarray(grey).save(tmp_path / "g8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    a = np.asarray(open_rgb(tmp_path / "g8.png"))
    b = np.asarray(open_rgb(tmp_path / "g16.png"))
    assert b.shape == a.shape == (64, 64, 3)
    assert np.array_equal(a, b)  # PIL's plain convert("RGB") would make b all 255


def test_truncated_and_garbage_files_name_the_file(tmp_path):
    Image.fromarray(np.zeros((32, 32, 3), np.uint8) + 9).save(tmp_path / "ok.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "ok.png").read_bytes()[:60])
    (tmp_path / "junk.png").write_bytes(b"not an image")
    for name in ("cut.png", "junk.png"):
        with pytest.raises(ImageFileError, match=rf"{name}: cannot decode image"):
            open_rgb(tmp_path / name)


def test_constant_and_non_finite_outputs_are_warned():
    assert image_warnings(Image.new("RGB", (8, 8)), "x.png") == [
        "x.png: output image is constant (every pixel 0)"
    ]
    nan = np.full((4, 4), np.nan, np.float32)
    assert "non-finite" in image_warnings(nan, "y.png")[0]
    varied = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8))
    assert image_warnings(varied, "z.png") == []

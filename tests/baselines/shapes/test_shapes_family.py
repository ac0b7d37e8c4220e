"""The shapes family's weights options: one folder, or text and image files from two."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from hbench.baselines.shapes.family import WEIGHTS_DIR, ShapesFamily, ShapesOptions


@pytest.fixture(scope="module")
def generator_only(tmp_path_factory):
    """A folder with the generator's files only (as a generator training run writes it)."""
    path = tmp_path_factory.mktemp("gen")
    for f in WEIGHTS_DIR.glob("generator_*"):
        shutil.copy(f, path / f.name)
    return path


def test_image_weights_from_another_folder(generator_only):
    system = ShapesFamily.build("nfe1", ShapesOptions(image_weights=str(generator_only)))
    system.load("cpu", torch.float32)
    image = np.asarray(system.generate("a photo of a red circle", 0))
    assert image.shape == (32, 32, 3)
    shipped = ShapesFamily.build("nfe1", ShapesOptions())
    shipped.load("cpu", torch.float32)
    assert np.array_equal(image, np.asarray(shipped.generate("a photo of a red circle", 0)))


def test_missing_understanding_files_are_named(generator_only):
    system = ShapesFamily.build("nfe1", ShapesOptions(weights=str(generator_only)))
    with pytest.raises((FileNotFoundError, ValueError), match="understanding"):
        system.load("cpu", torch.float32)
    with pytest.raises(FileNotFoundError, match="shapes weights directory not found"):
        ShapesFamily.build("nfe1", ShapesOptions(text_weights=str(generator_only / "nope")))

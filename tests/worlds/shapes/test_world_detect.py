"""The exact detector on rendered ground truth, and its graceful degradation on noise."""

from __future__ import annotations

import numpy as np
import pytest

from hbench.worlds.shapes import (
    BACKGROUNDS,
    background_of,
    classify_color,
    detect,
    render,
    sample_scene,
)
from hbench.worlds.shapes.detect import flat_objects


@pytest.mark.parametrize("seed", range(4))
def test_exact_on_ground_truth(seed):
    rng = np.random.default_rng(seed)
    for i in range(150):
        scene = sample_scene(
            rng, int(rng.integers(1, 5)), distinct=False, background=list(BACKGROUNDS)[i % 3]
        )
        img = render(scene)
        got = sorted((s, d.color, d.box) for s, d in flat_objects(detect(img), 0.9))
        want = sorted((o.shape, o.color, tuple(float(v) for v in o.box)) for o in scene.objects)
        assert got == want
        assert background_of(img) == scene.background
        for _s, d in flat_objects(detect(img), 0.9):
            assert classify_color(img, d.mask) == d.color


def test_scores_fall_with_noise_and_specks_are_ignored():
    rng = np.random.default_rng(0)
    scene = sample_scene(rng, 2)
    clean = render(scene)
    noisy = np.clip(clean.astype(int) + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
    clean_scores = sorted(d.score for _, d in flat_objects(detect(clean), 0.0))
    noisy_scores = sorted(d.score for _, d in flat_objects(detect(noisy), 0.0))
    assert min(clean_scores) == 1.0
    assert len(noisy_scores) == 2 and max(noisy_scores) < 1.0
    speck = clean.copy()
    speck[0:2, 0:2] = (220, 30, 30)  # 4 red pixels: below min_pixels
    assert len(flat_objects(detect(speck), 0.0)) == 2


def test_slightly_off_colour_objects_stay_confident_and_ambiguous_ones_do_not():
    scene = sample_scene(np.random.default_rng(3), 2)
    img = render(scene)
    objects = np.any(img != img[0, 0], axis=-1)  # grey background in sample scenes

    def shifted(delta: int) -> np.ndarray:
        out = img.astype(int)
        out[objects] += delta  # every object pixel moved ~delta*sqrt(3) off its palette colour
        return np.clip(out, 0, 255).astype(np.uint8)

    mild = [d.score for _, d in flat_objects(detect(shifted(10)), 0.0)]
    strong = [d.score for _, d in flat_objects(detect(shifted(30)), 0.0)]
    assert len(mild) == 2 and min(mild) >= 0.9  # 17 units off: unmistakable, still counted
    assert strong and max(strong) < 0.9  # 52 units off: ambiguous, dropped by counting


def test_rejects_non_rgb():
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) RGB image"):
        detect(np.zeros((32, 32), dtype=np.uint8))

"""FID / KID: known answers on synthetic feature sets, torchmetrics agreement, the paired
bootstrap of differences, small-set flags, and the Inception extractors (random weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hbench.tasks.metrics.distribution import (
    DistributionOptions,
    FIDMetric,
    FrechetReference,
    KIDMetric,
    KIDOptions,
    fid_value,
    kid_value,
)
from hbench.tasks.metrics.inception import InceptionFeatures


def _opts(cls, folder, ckpt, **kw):
    return cls(reference=str(folder), checkpoint=str(ckpt), features="inception", **kw)


@pytest.fixture
def fid(tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"x")  # options only check that the file exists
    return FIDMetric(
        _opts(DistributionOptions, tmp_path, tmp_path / "w.safetensors", resamples=300)
    )


@pytest.fixture
def kid(tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"x")
    return KIDMetric(_opts(KIDOptions, tmp_path, tmp_path / "w.safetensors", resamples=300))


def test_identical_sets_give_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert abs(fid_value(x, x)) < 1e-6
    # KID is an unbiased MMD^2 estimate: ~0 for two samples of one distribution, while a
    # 0.3 shift in every dimension gives ~0.3 at this size
    y = np.random.default_rng(1).normal(size=(500, 8))
    mean, _, size = kid_value(x, y, subsets=1, subset_size=500, seed=0)
    assert size == 500 and abs(mean) < 0.02
    assert kid_value(x + 0.3, y, subsets=1, subset_size=500, seed=0)[0] > 0.2


def test_fid_of_shifted_gaussians_is_the_closed_form():
    """N(0, I) vs N(delta, s^2 I) in d dims: FID = |delta|^2 + d (1 - s)^2."""
    rng = np.random.default_rng(1)
    d, n, s = 4, 20000, 2.0
    delta = np.array([1.0, -0.5, 0.0, 2.0])
    x = rng.normal(size=(n, d))
    y = delta + s * rng.normal(size=(n, d))
    expected = float(delta @ delta + d * (1 - s) ** 2)  # 5.25 + 4 = 9.25
    assert fid_value(y, x) == pytest.approx(expected, rel=0.03)


def test_kid_of_shifted_gaussians_is_the_closed_form():
    """d = 1, kernel (xy + 1)^3 = <phi(x), phi(y)> with phi = (x^3, sqrt3 x^2, sqrt3 x, 1),
    so MMD^2 = (E x^3 - E y^3)^2 + 3 (E x^2 - E y^2)^2 + 3 (E x - E y)^2.
    N(0, 1) vs N(0.5, 1): moments (0, 1, 0) vs (0.5, 1.25, 1.625) -> 3.578125."""
    rng = np.random.default_rng(2)
    n = 6000
    x, y = rng.normal(size=(n, 1)), 0.5 + rng.normal(size=(n, 1))
    mean, std, size = kid_value(y, x, subsets=1, subset_size=n, seed=0)
    # third moments of 6000 normals carry ~3% noise at this size
    assert mean == pytest.approx(3.578125, rel=0.1) and std == 0.0 and size == n


def test_closed_form_fid_matches_torchmetrics_on_both_branches():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    fr = FrechetReference(ref)
    for n in (4, 60):  # n < d uses the n x n Gram form, n >= d the d x d form
        x = rng.normal(size=(n, 6)) + 0.3
        ones = torch.ones(n, dtype=torch.float64)
        assert fr.distance(torch.from_numpy(x), ones) == pytest.approx(fid_value(x, ref), rel=1e-6)
    # multiplicities are the same as repeating rows
    x = rng.normal(size=(10, 6))
    counts = torch.tensor([2, 0, 1, 1, 3, 0, 1, 1, 1, 0], dtype=torch.float64)
    rep = np.repeat(x, counts.numpy().astype(int), axis=0)
    assert fr.distance(torch.from_numpy(x), counts) == pytest.approx(fid_value(rep, ref), rel=1e-6)


def test_fid_difference_bootstrap(fid):
    rng = np.random.default_rng(4)
    ref = rng.normal(size=(400, 5))
    base = rng.normal(size=(200, 5))
    other = base + 1.0  # every paired image moved away from the reference
    d = fid.set_difference(base, other, ref)
    assert d["mean_diff"] == pytest.approx(fid_value(other, ref) - fid_value(base, ref), rel=1e-6)
    assert 0 < d["ci_low"] <= d["mean_diff"] <= d["ci_high"]
    assert d["n"] == 200 and d["resamples"] == 300 and d["too_small"]  # 200 < 2048
    assert fid.set_difference(base, other, ref) == d  # seeded
    same = fid.set_difference(base, base.copy(), ref)
    assert same["mean_diff"] == pytest.approx(0, abs=1e-9) and same["ci_low"] == pytest.approx(
        0, abs=1e-9
    )


def test_kid_difference_matches_torchmetrics_full_set(kid):
    rng = np.random.default_rng(5)
    n = 150
    ref = rng.normal(size=(n, 3))
    base, other = rng.normal(size=(n, 3)) + 0.2, rng.normal(size=(n, 3)) + 0.8
    d = kid.set_difference(base, other, ref)
    # torchmetrics with one subset of every image is the full-set estimator
    full = [kid_value(x, ref, subsets=1, subset_size=n, seed=0)[0] for x in (base, other)]
    assert d["mean_diff"] == pytest.approx(full[1] - full[0], rel=1e-6)
    assert 0 < d["ci_low"] <= d["mean_diff"] <= d["ci_high"]


def test_set_values_flag_small_sets(fid, kid):
    rng = np.random.default_rng(6)
    ref, x = rng.normal(size=(50, 4)), rng.normal(size=(30, 4))
    v = fid.set_value(x, ref)
    assert (
        v["too_small"] and v["n"] == 30 and v["n_reference"] == 50 and "rank-deficient" in v["note"]
    )
    k = kid.set_value(x, ref)
    assert k["too_small"] and k["subset_size"] == 30 and k["subsets"] == 100


def test_options_name_a_missing_path(tmp_path):
    with pytest.raises(ValueError, match=f"checkpoint: file not found: {tmp_path / 'nope.pth'}"):
        _opts(DistributionOptions, tmp_path, tmp_path / "nope.pth")
    (tmp_path / "w.pth").write_bytes(b"x")
    with pytest.raises(ValueError, match="reference: folder not found"):
        _opts(DistributionOptions, tmp_path / "refs", tmp_path / "w.pth")


@pytest.mark.parametrize("kind", ["inception-fid", "inception"])
def test_inception_extractors_load_local_weights(tmp_path, kind):
    """Random-weight Inception v3 checkpoints in each layout (27M parameters, built once)."""
    from safetensors.torch import save_file
    from torchvision.models.inception import Inception3

    fid = kind == "inception-fid"
    torch.manual_seed(0)
    net = Inception3(num_classes=1008 if fid else 1000, aux_logits=not fid, init_weights=False)
    path = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    ext = InceptionFeatures(str(path), "cpu", fid=fid)
    assert type(ext.net.Mixed_7c).__name__ == ("FIDInceptionE2" if fid else "InceptionE")
    imgs = [Image.new("RGB", (32, 32), c) for c in ((200, 30, 30), (30, 60, 220))]
    feats = ext(imgs)
    assert feats.shape == (2, 2048) and feats.dtype == np.float32 and np.isfinite(feats).all()
    np.testing.assert_allclose(ext(imgs[1:]), feats[1:], rtol=1e-4, atol=1e-5)  # batch-invariant
    save_file({"fc.weight": torch.zeros(3, 4)}, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(ValueError, match="not a .*Inception.* state dict"):
        InceptionFeatures(str(tmp_path / "wrong.safetensors"), "cpu", fid=fid)

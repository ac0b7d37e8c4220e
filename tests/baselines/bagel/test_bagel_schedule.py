"""The BAGEL NFE function against the official configurations.

Derivation from the official code (ByteDance-Seed/Bagel ``modeling/bagel/bagel.py``,
``generate_image`` and ``_forward_flow``; settings from ``eval/gen/gen_images_mp.py`` and
``eval/gen/gedit/gen_images_gedit.py`` as ``scripts/eval/run_geneval.sh`` / ``run_gedit.sh``
call them):

* times: ``u_i = linspace(1, 0, 50)[i] = 1 - i/49``, shifted ``t_i = 3 u_i / (1 + 2 u_i)``;
  ``timesteps = t[:-1]`` -> 49 evaluated times ``t_0 = 1 > ... > t_48 = 3/97`` (t = 0 dropped).
* GenEval: ``cfg_text_scale = 4 > 1``, ``cfg_img_scale`` default 1.0, ``cfg_interval [0, 1]``:
  every evaluated ``t`` satisfies ``0 < t <= 1`` (``t_0 = 1.0`` exactly: ``3 / 3``), so each
  step runs the conditional and the text-unconditional branch: **49 x 2 = 98**.
* GEdit: ``cfg_text_scale = 4``, ``cfg_img_scale = 1.5``, ``cfg_interval [0.4, 1]``:
  ``t > 0.4  <=>  3u > 0.4 + 0.8u  <=>  u > 2/11  <=>  i < 49 * 9/11 = 40.09``, so steps
  ``i = 0..40`` (41 steps, ``t_40 = 0.40299``, ``t_41 = 0.36923``) run three branches and the
  other 8 run one: **41 x 3 + 8 = 131**.
* The Hyper-Bagel paper's 100 and 132 count all 50 points with the lower bound closed:
  ``50 x 2 = 100`` and ``41 x 3 + 9 = 132``.
* Students: guidance folded in (one branch); 7 points = 6 steps -> **6**; 2 points -> **1**.
"""

from __future__ import annotations

import pytest
import torch

from hbench.baselines.bagel.schedule import (
    COND,
    GEDIT,
    GENEVAL,
    NFE1,
    NFE6,
    NO_IMAGE,
    NO_TEXT,
    SamplerConfig,
    branches_at,
    nfe,
    timesteps,
)


def test_official_geneval_is_98() -> None:
    got = nfe(GENEVAL)
    assert (got.nfe, got.steps, got.guided_steps, got.merged_calls) == (98, 49, 49, 49)
    assert set(got.per_step) == {2}


def test_official_gedit_is_131() -> None:
    got = nfe(GEDIT)
    assert (got.nfe, got.steps, got.guided_steps) == (131, 49, 41)
    assert got.per_step == (3,) * 41 + (1,) * 8


def test_paper_accounting_is_100_and_132() -> None:
    assert nfe(GENEVAL, "paper").nfe == 100
    assert nfe(GEDIT, "paper").nfe == 132
    with pytest.raises(ValueError, match="accounting"):
        nfe(GENEVAL, "other")  # type: ignore[arg-type]


def test_students() -> None:
    assert (nfe(NFE6).nfe, nfe(NFE6).steps) == (6, 6)
    assert (nfe(NFE1).nfe, nfe(NFE1).steps) == (1, 1)


def test_times_are_bagels_float32_formula() -> None:
    t = timesteps(GEDIT)
    u = torch.linspace(1, 0, 50)
    assert t.dtype == torch.float32 and torch.equal(t, 3.0 * u / (1 + 2.0 * u))
    assert float(t[0]) == 1.0 and float(t[-1]) == 0.0
    assert float(t[40]) > 0.4 > float(t[41])


def test_gate_bounds_are_open_low_closed_high_in_float32() -> None:
    cfg = SamplerConfig(cfg_text_scale=2.0, cfg_img_scale=2.0, cfg_interval=(0.4, 0.6))
    assert branches_at(cfg, torch.tensor(0.6)) == (COND, NO_TEXT, NO_IMAGE)  # t <= hi
    assert branches_at(cfg, torch.tensor(0.4)) == (COND,)  # not t > lo
    # float32 rounding: 0.4 as float32 is 0.4000000059604645, compared in float32.
    just_above = torch.nextafter(torch.tensor(0.4), torch.tensor(1.0))
    assert branches_at(cfg, just_above) == (COND, NO_TEXT, NO_IMAGE)


def test_branches_run_independently_like_forward_flow() -> None:
    # _forward_flow runs the image branch whenever cfg_img_scale > 1, even without text CFG.
    only_img = SamplerConfig(cfg_text_scale=1.0, cfg_img_scale=1.5)
    assert branches_at(only_img, 0.5) == (COND, NO_IMAGE)
    assert nfe(only_img).nfe == 98
    assert nfe(SamplerConfig(cfg_text_scale=1.0)).nfe == 49


def test_agrees_with_the_shared_runtime_gate() -> None:
    """The runtime's Guidance (used by every family) opens the same branches on BAGEL's times."""
    from hbench.baselines.runtime.flow import Guidance

    for cfg in (GENEVAL, GEDIT):
        g = Guidance(cfg.cfg_text_scale, cfg.cfg_img_scale, cfg.cfg_interval, cfg.cfg_renorm_type)
        for t in timesteps(cfg)[:-1]:
            assert len(g.branches_at(float(t))) == len(branches_at(cfg, t))


def test_explicit_timesteps() -> None:
    cfg = SamplerConfig(timesteps=(1.0, 0.75, 0.5, 0.0), cfg_text_scale=1.0)
    assert cfg.steps == 3 and nfe(cfg).nfe == 3
    assert torch.equal(timesteps(cfg), torch.tensor([1.0, 0.75, 0.5, 0.0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_timesteps": 1}, "num_timesteps"),
        ({"timestep_shift": 0.0}, "timestep_shift"),
        ({"cfg_interval": (0.8, 0.2)}, "cfg_interval"),
        ({"cfg_renorm_type": "bogus"}, "cfg_renorm_type"),
        ({"cfg_renorm_min": 1.5}, "cfg_renorm_min"),
        ({"cfg_text_scale": 0.0}, "scale"),
        ({"timesteps": (1.0, 0.5)}, "end at 0.0"),
        ({"timesteps": (0.5, 0.7, 0.0)}, "decrease"),
        ({"timesteps": (1.5, 0.0)}, "start at or below 1.0"),
    ],
)
def test_sampler_config_rejects(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SamplerConfig(**kwargs)

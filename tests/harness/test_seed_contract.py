"""The System protocol's seed contract, for every family that can run here.

``generate(prompt, seed)`` and ``edit(image, instruction, seed)`` draw every random number of
a sample (starting noise, a VAE posterior sample, anything else) from ``seed``: called twice
with one seed they give the same image, whatever the global RNG did in between. Sampled
decoding (``understand`` with a temperature) draws from the system's configured seed the same
way. A different seed must give a different image, so the contract is not met by ignoring it.

Families: shapes (shipped weights), hf / diffusers / diffusers-edit (tiny random pipelines
saved to disk), bagel (tiny random BAGEL; skipped, with the reason, without the official code).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from hbench.harness import plugins
from hbench.harness.system import EDIT, GENERATE, UNDERSTAND, System

PROMPT = "a photo of a red circle"
INSTRUCTION = "remove the red circle ."  # in the shapes vocabulary too

Call = Callable[[int], object]  # seed -> output (an image or token ids)


def _image(size: int = 32) -> Image.Image:
    rng = np.random.default_rng(5)
    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


def _build(family: str, variant: str, **options) -> System:
    fam = plugins.SYSTEMS.get(family)
    system = fam.build(variant, fam.Options(**options))
    system.load("cpu", torch.float32)
    return system


def _image_calls(system: System, image_size: int = 32) -> dict[str, Call]:
    calls: dict[str, Call] = {}
    if GENERATE in system.capabilities:
        calls[GENERATE] = lambda seed: system.generate(PROMPT, seed)
    if EDIT in system.capabilities:
        src = _image(image_size)
        calls[EDIT] = lambda seed: system.edit(src, INSTRUCTION, seed)
    return calls


# Each case: the seeded calls of some loaded variants of one family, by "variant:capability".
def _shapes(tmp_path_factory) -> dict[str, Call]:
    out = {}
    for variant in ("baseline", "nfe1"):
        system = _build("shapes", variant)
        out.update({f"{variant}:{k}": f for k, f in _image_calls(system).items()})
    return out


def _hf(tmp_path_factory) -> dict[str, Call]:
    from hbench.baselines.hf.tiny import build_tiny_draft, build_tiny_lm

    d = tmp_path_factory.mktemp("seed-hf")
    build_tiny_lm(d / "lm", "llama", seed=0)
    build_tiny_draft(d / "lm", d / "draft", noise=0.004)
    out: dict[str, Call] = {}
    for variant, extra in (("baseline", {}), ("spec", {"draft_path": str(d / "draft")})):
        # The protocol's understand has no seed argument: sampling draws from options.seed.
        system = _build("hf", variant, path=str(d / "lm"), temperature=1.0, seed=3, **extra)
        assert UNDERSTAND in system.capabilities
        out[f"{variant}:{UNDERSTAND}"] = lambda seed, s=system: (
            s.understand([], PROMPT, 12).token_ids
        )
    return out


def _diffusers(tmp_path_factory) -> dict[str, Call]:
    from hbench.baselines.diffusers.tiny import build_tiny_sd

    pipe = build_tiny_sd(tmp_path_factory.mktemp("seed-sd") / "pipe")
    system = _build("diffusers", "baseline", path=str(pipe), steps=2)
    return {f"baseline:{k}": f for k, f in _image_calls(system).items()}


def _diffusers_edit(tmp_path_factory) -> dict[str, Call]:
    from hbench.baselines.diffusers_edit.tiny import build_tiny_ip2p

    pipe = tmp_path_factory.mktemp("seed-ip2p") / "pipe"
    build_tiny_ip2p(pipe)
    system = _build("diffusers-edit", "baseline", path=str(pipe), steps=2)
    return {f"baseline:{k}": f for k, f in _image_calls(system).items()}


CASES = {
    "shapes": _shapes,
    "hf": _hf,
    "diffusers": _diffusers,
    "diffusers-edit": _diffusers_edit,
}


@pytest.fixture(scope="module")
def bagel_calls(tiny_bagel) -> dict[str, Call]:
    from hbench.baselines.bagel.options import BagelOptions
    from hbench.baselines.bagel.system import BagelSystem
    from hbench.baselines.bagel.tiny import EDIT_MAX, EDIT_MIN

    checkout, weights, pool = tiny_bagel
    out = {}
    for variant in ("baseline", "kernels"):
        options = BagelOptions(
            checkout=str(checkout), weights=str(weights), t2i_resolution=64,
            edit_max_size=EDIT_MAX, edit_min_size=EDIT_MIN,
        )  # fmt: skip
        system = BagelSystem(variant, options, pool=pool)
        system.load("cpu", torch.float32)
        out.update({f"{variant}:{k}": f for k, f in _image_calls(system, 48).items()})
    return out


def _disturb_global_rngs(k: int) -> None:
    """Leave every global generator in a state no sample could have expected."""
    torch.manual_seed(1000 + k)
    torch.randn(97 * (k + 1))
    np.random.seed(2000 + k)
    random.seed(3000 + k)


def _as_array(out: object) -> np.ndarray:
    return np.asarray(out if not isinstance(out, Image.Image) else out.convert("RGB"))


def _check_contract(calls: dict[str, Call]) -> None:
    assert calls
    for name, call in calls.items():
        _disturb_global_rngs(0)
        first = _as_array(call(7))
        _disturb_global_rngs(1)
        again = _as_array(call(7))
        assert np.array_equal(first, again), f"{name}: same seed, different output"
        if not name.endswith(UNDERSTAND):  # understand takes its seed from the options
            other = _as_array(call(8))
            assert not np.array_equal(first, other), f"{name}: the seed changes nothing"


@pytest.mark.parametrize("family", sorted(CASES))
def test_seeded_calls_do_not_depend_on_the_global_rng(family, tmp_path_factory) -> None:
    torch.set_num_threads(1)
    _check_contract(CASES[family](tmp_path_factory))


def test_seeded_calls_do_not_depend_on_the_global_rng_bagel(bagel_calls) -> None:
    _check_contract(bagel_calls)


def test_every_registered_family_is_covered() -> None:
    # A new family must join this contract test (bagel runs from the official-code fixture).
    # Families that other tests register for themselves (defined in tests/) are not shipped.
    shipped = {
        name
        for name in plugins.SYSTEMS.names()
        if getattr(plugins.SYSTEMS.get(name), "__module__", "").startswith("hbench.")
    }
    assert shipped == set(CASES) | {"bagel"}

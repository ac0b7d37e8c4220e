"""Fixtures shared across test folders: a tiny *real* BAGEL built from the official code.

The official BAGEL source is found at ``$HBENCH_BAGEL_CHECKOUT`` or, failing that, at the
shared fixture ``<repository root>/../shared/vendor/bagel-056b5fd`` (CI has it); tests that
need it are skipped, with the reason, when neither exists or BAGEL's requirements (``cv2``,
``einops``) are missing. The model is :mod:`hbench.baselines.bagel.tiny` (random weights, toy
sizes); without flash-attention the loader registers hbench's PyTorch stand-in.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

CHECKOUT_ENV = "HBENCH_BAGEL_CHECKOUT"
REPO_ROOT = Path(__file__).resolve().parents[1]
VENDORED_BAGEL = REPO_ROOT.parent / "shared" / "vendor" / "bagel-056b5fd"
_MARKER = "modeling/bagel/bagel.py"


def find_bagel_checkout() -> tuple[Path | None, str]:
    """``(checkout, "")``, or ``(None, why not)``."""
    given = os.environ.get(CHECKOUT_ENV)
    if given:
        if Path(given, _MARKER).is_file():
            return Path(given), ""
        return None, f"{CHECKOUT_ENV}={given!r} is not a BAGEL checkout (no {_MARKER})"
    if Path(VENDORED_BAGEL, _MARKER).is_file():
        return VENDORED_BAGEL, ""
    return None, (
        f"no BAGEL checkout: set {CHECKOUT_ENV} to a clone of ByteDance-Seed/Bagel, or provide "
        f"the shared fixture {VENDORED_BAGEL}"
    )


@pytest.fixture(scope="session")
def bagel_checkout() -> Path:
    path, why = find_bagel_checkout()
    if path is None:
        pytest.skip(why)
    try:
        import cv2  # noqa: F401  (BAGEL's data.transforms)
        import einops  # noqa: F401  (BAGEL's autoencoder)
    except ImportError as err:
        pytest.skip(f"BAGEL's requirements are not installed: {err}")
    return path


@pytest.fixture(scope="session")
def tiny_bagel(bagel_checkout, tmp_path_factory):
    """``(checkout, weights_dir, pool)``: a ModelPool whose sessions are the tiny BAGEL."""
    torch.set_num_threads(1)
    from hbench.baselines.bagel.checkout import import_bagel
    from hbench.baselines.bagel.loading import ModelPool, prepare_attention
    from hbench.baselines.bagel.tiny import load_tiny_session, write_tiny_weights

    prepare_attention("auto")
    code = import_bagel(bagel_checkout)
    weights = write_tiny_weights(code, tmp_path_factory.mktemp("tiny-bagel"))
    return bagel_checkout, weights, ModelPool(loader=load_tiny_session)


@pytest.fixture(scope="session")
def tiny_session(tiny_bagel):
    """The loaded tiny BAGEL (float32 weights, bfloat16 autocast, CPU), shared by the variants."""
    checkout, weights, pool = tiny_bagel
    return pool.get(str(checkout), str(weights), "cpu", torch.float32, "bfloat16")

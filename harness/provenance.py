"""Which code produced a result: the git revision of this checkout and the library versions."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def git_info() -> dict[str, Any]:
    """``{"revision": HEAD or None, "dirty": uncommitted changes or None}`` of this checkout."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}
    if rev.returncode != 0:
        return {"revision": None, "dirty": None}
    return {"revision": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def code_revision() -> str:
    """The revision of the code that ran (for weights manifests); "unknown" outside git."""
    return git_info()["revision"] or "unknown"


# The distributions whose releases change results or break imports. CI installs the newest
# of each, so it meets upstream drift first: it prints these, and every manifest records them.
MAIN_DEPENDENCIES = (
    "hbench",
    "torch",
    "torchvision",
    "triton",
    "transformers",
    "kernels",  # required by transformers >= 5.25 and imported by it at import time
    "tokenizers",
    "safetensors",
    "diffusers",
    "torchmetrics",
    "open-clip-torch",
    "lm-eval",
    "numpy",
    "pillow",
    "gguf",
)


def dependency_versions() -> dict[str, str | None]:
    """Python's and each main dependency's installed version (None when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in MAIN_DEPENDENCIES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


if __name__ == "__main__":  # `python -m hbench.harness.provenance`: CI's record of versions
    for name, value in dependency_versions().items():
        print(f"{name:16} {value or '-'}")

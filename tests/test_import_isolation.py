"""The repository root on ``sys.path`` must not shadow installed distributions.

``python -c ...`` and ``python -m hbench ...`` started from the root put the root first on
``sys.path``. The layer folders there (``kernels/``, ``tasks/`` ...) must never resolve as
regular packages: transformers imports the ``kernels`` distribution at import time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hbench

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("harness", "worlds", "tasks", "baselines", "kernels", "reports")

CHILD = """
import importlib.util, json, sys
from pathlib import Path
root = Path.cwd().resolve()
shadowed = {}
for name in %(layers)r:
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.origin and Path(spec.origin).resolve().is_relative_to(root):
        shadowed[name] = spec.origin
from transformers import LlamaConfig, LlamaForCausalLM, LlavaConfig
LlamaForCausalLM(LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                             num_attention_heads=2, num_key_value_heads=1, vocab_size=64))
LlavaConfig()
import diffusers, open_clip, lm_eval, torchmetrics
from diffusers import UNet2DModel
import hbench.kernels.dispatch, hbench.tasks, hbench.reports.build, hbench.cli
print(json.dumps(shadowed))
"""


def _run_from_root(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def test_root_on_sys_path_shadows_no_distribution():
    proc = _run_from_root("-c", CHILD % {"layers": LAYERS})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "{}", proc.stdout


def test_python_m_hbench_from_root():
    proc = _run_from_root("-m", "hbench", "--version")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert hbench.__version__ in proc.stdout


def test_layers_bind_as_hbench_subpackages():
    import hbench.harness
    import hbench.kernels

    assert hbench.LAYERS == LAYERS
    for layer in LAYERS:
        module = sys.modules.get(f"hbench.{layer}") or __import__(f"hbench.{layer}")
        assert module is not None
    assert Path(list(hbench.kernels.__path__)[0]).name == "kernels"


def test_regular_wheel_install_imports_and_carries_the_weights(tmp_path):
    """A non-editable install: layers inside hbench/, the shapes weights shipped."""
    wheels, target, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # Build from a copy: setuptools leaves build/ behind in the tree it builds, and a stale
    # build/lib would put deleted modules into later wheels.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "runs", "*.egg-info", "__pycache__", ".*_cache"))  # fmt: skip
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source),
                            "-w", str(wheels)], capture_output=True, text=True, timeout=600)  # fmt: skip
    if build.returncode != 0 and "setuptools" in build.stderr:
        pytest.skip(
            f"cannot build a wheel here (no setuptools for the build): {build.stderr[-200:]}"
        )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("hbench-*.whl")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                              "--target", str(target), str(wheel)], capture_output=True, text=True,
                             timeout=600)  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    child = (
        "import hbench, hbench.kernels.dispatch, hbench.cli, hbench.reports.build\n"
        "from hbench.baselines.shapes.family import WEIGHTS_DIR\n"
        f"assert hbench.__file__.startswith({str(target)!r}), hbench.__file__\n"
        "print(sorted(p.name for p in WEIGHTS_DIR.glob('*.safetensors')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", child], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "generator_teacher.safetensors" in proc.stdout
    assert "understanding_target.safetensors" in proc.stdout

"""Shipped weights: fp16 safetensors files verified against a sha256 manifest.

Loading never unpickles: ``.safetensors`` only, and the file's sha256 must equal the
manifest's entry, or a :class:`WeightsError` names the file and both digests.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from hbench.harness.provenance import code_revision

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = "generator_manifest.json"


class WeightsError(RuntimeError):
    """A weights file is missing, pickled, or does not match its manifest entry."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(weights_dir: Path = WEIGHTS_DIR) -> dict:
    """The manifest as a dict (``{"files": {name: entry}}``); empty when absent."""
    path = Path(weights_dir) / MANIFEST
    if not path.exists():
        return {"files": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise WeightsError(f"{path}: not valid JSON ({err})") from err


def save_weights(
    state: dict[str, torch.Tensor],
    name: str,
    entry: dict,
    weights_dir: Path = WEIGHTS_DIR,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Write ``state`` as ``<name>.safetensors`` (floats cast to ``dtype``) and its manifest entry."""
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = weights_dir / f"{name}.safetensors"
    tensors = {
        k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).contiguous()
        for k, v in state.items()
    }
    save_file(tensors, str(path))
    manifest = read_manifest(weights_dir)
    manifest["files"][path.name] = {
        **entry,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
        "dtype": str(dtype).removeprefix("torch."),
        "git_revision": code_revision(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (weights_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


def load_verified(
    name: str, weights_dir: Path = WEIGHTS_DIR
) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors (float32) and manifest entry of ``<name>.safetensors`` after checking its sha256.

    Raises:
        WeightsError: the file is missing, not safetensors, absent from the manifest, or its
            digest differs from the manifest's.
    """
    weights_dir = Path(weights_dir)
    path = weights_dir / f"{name}.safetensors"
    if not path.exists():
        raise WeightsError(f"{path}: weights file not found (train it, see the manifest's command)")
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80" or head == b"PK":
        raise WeightsError(f"{path}: looks like a pickle/zip checkpoint; only safetensors load")
    entry = read_manifest(weights_dir)["files"].get(path.name)
    if entry is None:
        raise WeightsError(f"{path}: no entry in {weights_dir / MANIFEST}; refusing to load")
    digest = sha256_of(path)
    if digest != entry["sha256"]:
        raise WeightsError(
            f"{path}: sha256 {digest} does not match the manifest's {entry['sha256']}"
        )
    try:
        tensors = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types
        raise WeightsError(f"{path}: not a valid safetensors file ({err})") from err
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, entry


def record_metrics(name: str, metrics: dict, weights_dir: Path = WEIGHTS_DIR) -> None:
    """Store evaluation ``metrics`` in the manifest entry of ``<name>.safetensors``."""
    manifest = read_manifest(weights_dir)
    entry = manifest["files"].get(f"{name}.safetensors")
    if entry is None:
        raise WeightsError(f"{Path(weights_dir) / MANIFEST}: no entry for {name}.safetensors")
    entry.setdefault("metrics", {}).update(metrics)
    (Path(weights_dir) / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")

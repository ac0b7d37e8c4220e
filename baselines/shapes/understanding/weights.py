"""Committed weights of the understanding models: safetensors files checked against a manifest.

The manifest (``understanding_manifest.json``) lists, per file, its sha256, size, the
training command, git revision, date and metrics measured at training time. Loading
verifies the checksum and refuses anything that is not a safetensors file (a pickle or a
zip archive is rejected before any deserialisation).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = "understanding_manifest.json"
TARGET_FILE = "understanding_target.safetensors"
HEAD_FILE = "understanding_head.safetensors"
ASSISTANT_FILE = "understanding_assistant.safetensors"
TOKENIZER_FILE = "understanding_tokenizer.json"
# Magic bytes of formats that must never be loaded as weights.
_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")


class WeightsError(ValueError):
    """A weights file is missing, tampered with, or not safetensors."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(weights_dir: Path) -> dict[str, Any]:
    path = Path(weights_dir) / MANIFEST
    if not path.is_file():
        raise WeightsError(
            f"weights manifest {path} not found; train or restore the understanding weights "
            "(the shapes family's text_weights option reads them from another folder)"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise WeightsError(f"{path}: not valid JSON ({err})") from err


def verified_path(weights_dir: Path, name: str) -> Path:
    """Path of manifest entry ``name`` after checking existence, format and sha256."""
    entry = read_manifest(weights_dir).get("files", {}).get(name)
    if entry is None:
        raise WeightsError(f"{Path(weights_dir) / MANIFEST} has no entry for {name!r}")
    path = Path(weights_dir) / name
    if not path.is_file():
        raise WeightsError(f"weights file {path} listed in the manifest does not exist")
    if name.endswith(".safetensors"):
        with path.open("rb") as f:
            head = f.read(8)
        if any(head.startswith(m) for m in _PICKLE_MAGIC) or not name.endswith(".safetensors"):
            raise WeightsError(
                f"{path}: looks like a pickle/zip archive; only safetensors are loaded"
            )
    digest = sha256(path)
    if digest != entry["sha256"]:
        raise WeightsError(
            f"{path}: sha256 {digest} does not match the manifest ({entry['sha256']})"
        )
    return path


def load_tensors(weights_dir: Path, name: str, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Checksum-verified safetensors tensors of manifest entry ``name``."""
    if not name.endswith(".safetensors"):
        raise WeightsError(f"{name}: refusing to load weights that are not .safetensors")
    return load_file(str(verified_path(weights_dir, name)), device=device)


def write_entry(weights_dir: Path, name: str, record: dict[str, Any]) -> None:
    """Add or replace manifest entry ``name`` (sha256 and size computed here)."""
    weights_dir = Path(weights_dir)
    path = weights_dir / name
    mpath = weights_dir / MANIFEST
    manifest = json.loads(mpath.read_text()) if mpath.is_file() else {"files": {}}
    manifest["files"][name] = {
        "sha256": sha256(path),
        "bytes": path.stat().st_size,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **record,
    }
    mpath.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def save_tensors(
    tensors: dict[str, torch.Tensor], path: Path, dtype: torch.dtype = torch.float16
) -> None:
    """Save floating tensors as ``dtype`` (other tensors unchanged)."""
    out = {
        k: (v.to(dtype) if v.is_floating_point() else v).detach().contiguous().cpu()
        for k, v in tensors.items()
    }
    save_file(out, str(path))

"""The official GenEval image folder layout, written and read::

    IMAGEDIR/
        00000/
            metadata.jsonl      # the prompt's record: one JSON object (line N of the metadata)
            samples/
                0000.png
                0001.png ...
        00001/ ...

Images hbench writes here can be scored by the official ``evaluate_images.py``; folders
written by the official generation script (or anyone else) can be scored by hbench.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hbench.harness.textio import InputFileError, read_utf8

from .metadata import MetadataError, validate_record

_SAMPLE_RE = re.compile(r"\d+\.png")


class LayoutError(ValueError):
    """A folder that is not in the GenEval layout; the message names the path."""


def prompt_dir(root: str | Path, index: int) -> Path:
    """``root/NNNNN`` for prompt ``index``."""
    return Path(root) / f"{index:05d}"


def sample_path(root: str | Path, index: int, sample: int) -> Path:
    """``root/NNNNN/samples/SSSS.png``."""
    return prompt_dir(root, index) / "samples" / f"{sample:04d}.png"


def write_prompt(root: str | Path, index: int, metadata: dict[str, Any]) -> Path:
    """Create ``NNNNN/`` with its ``metadata.jsonl`` (the record on one line)."""
    folder = prompt_dir(root, index)
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    (folder / "metadata.jsonl").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


def save_sample(
    root: str | Path, index: int, sample: int, image: Any, metadata: dict[str, Any]
) -> Path:
    """Save one PIL image at its official path (writing the prompt's metadata too)."""
    write_prompt(root, index, metadata)
    path = sample_path(root, index, sample)
    image.save(path)
    return path


@dataclass(frozen=True)
class PromptFolder:
    """One ``NNNNN`` folder: its index, record and sample images (sorted by number)."""

    index: int
    path: Path
    metadata: dict[str, Any]
    samples: tuple[Path, ...]


def read_prompt_metadata(path: Path) -> dict[str, Any]:
    """The record in ``NNNNN/metadata.jsonl`` (validated; errors name the file)."""
    try:
        record = json.loads(read_utf8(path, "prompt metadata"))
    except InputFileError as err:
        raise LayoutError(str(err)) from err
    except json.JSONDecodeError as err:
        raise LayoutError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from err
    problems = validate_record(record)
    if problems:
        raise MetadataError(f"{path}: " + "; ".join(problems))
    return record


def read_layout(root: str | Path) -> list[PromptFolder]:
    """Every prompt folder under ``root`` in numeric order.

    As the official evaluator: folders whose name is all digits, images named ``<digits>.png``
    in ``samples/``; other entries are ignored. Unlike it, the order is sorted (not the
    file system's).

    Raises:
        LayoutError: ``root`` is missing, holds no prompt folder, or a folder lacks metadata.
    """
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: not a directory")
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
    )
    if not folders:
        raise LayoutError(f"{root}: no prompt folders (NNNNN/metadata.jsonl, NNNNN/samples/*.png)")
    out = []
    for folder in folders:
        meta_path = folder / "metadata.jsonl"
        if not meta_path.is_file():
            raise LayoutError(f"{folder}: missing metadata.jsonl")
        samples_dir = folder / "samples"
        samples = (
            sorted(
                (p for p in samples_dir.iterdir() if p.is_file() and _SAMPLE_RE.fullmatch(p.name)),
                key=lambda p: int(p.stem),
            )
            if samples_dir.is_dir()
            else []
        )
        out.append(
            PromptFolder(int(folder.name), folder, read_prompt_metadata(meta_path), tuple(samples))
        )
    return out

"""Inputs of the latency workloads: generated over the shapes world, or read from a JSONL file.

A workload input is a dict: ``understanding`` -> ``images`` (list of PIL images), ``prompt``,
``max_new_tokens``; ``t2i`` -> ``prompt``; ``edit`` -> ``image``, ``instruction``.

The JSONL form (one object per line, images relative to the file's folder)::

    {"workload": "understanding", "image": "imgs/0.png", "prompt": "Describe the image.", "max_new_tokens": 64}
    {"workload": "understanding", "prompt": "Explain tides.", "max_new_tokens": 128}  # no image
    {"workload": "t2i", "prompt": "a photo of a red car"}
    {"workload": "edit", "image": "imgs/1.png", "instruction": "make the sky pink"}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

WORKLOAD_NAMES: tuple[str, ...] = ("understanding", "t2i", "edit")
_FIELDS: dict[str, tuple[str, ...]] = {
    "understanding": ("prompt",),  # "image" is optional: text-only LMs take none
    "t2i": ("prompt",),
    "edit": ("image", "instruction"),
}


class InputError(ValueError):
    """Workload inputs that cannot be used (names the file and line)."""


def shapes_inputs(
    workload: str, count: int, seed: int, max_new_tokens: int
) -> list[dict[str, Any]]:
    """``count`` inputs for ``workload`` drawn from the shapes world with ``seed``."""
    # Imported here: the shapes world is world data, needed only by this source.
    from hbench.worlds.shapes import (
        CAPTION_PROMPT,
        EDIT_KINDS,
        caption_scene,
        render,
        sample_edit,
        shapes_metadata_set,
    )
    from hbench.worlds.shapes.scene import PlacementError

    rng = np.random.default_rng(seed)
    if workload == "understanding":
        images = [Image.fromarray(render(caption_scene(rng))) for _ in range(count)]
        return [
            {"images": [im], "prompt": CAPTION_PROMPT, "max_new_tokens": max_new_tokens}
            for im in images
        ]
    if workload == "t2i":
        prompts = [m["prompt"] for m in shapes_metadata_set(max(1, -(-count // 6)), seed)]
        order = rng.permutation(len(prompts))  # mix the six tags instead of taking the first ones
        return [{"prompt": prompts[int(i)]} for i in order[:count]]
    if workload == "edit":
        out: list[dict[str, Any]] = []
        while len(out) < count:
            kind = EDIT_KINDS[len(out) % len(EDIT_KINDS)]
            try:
                edit = sample_edit(rng, kind)
            except PlacementError:  # a crowded scene left no room: draw another
                continue
            out.append(
                {"image": Image.fromarray(render(edit.source)), "instruction": edit.instruction}
            )
        return out
    raise InputError(f"unknown workload {workload!r}; expected one of {', '.join(WORKLOAD_NAMES)}")


def file_inputs(path: Path, workload: str, count: int, max_new_tokens: int) -> list[dict[str, Any]]:
    """The first ``count`` inputs of ``workload`` in a JSONL file (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(f"{path}: cannot read latency inputs: {err.strerror}") from err
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{lineno}: invalid JSON: {err.msg}") from err
        if not isinstance(rec, dict) or rec.get("workload") not in _FIELDS:
            raise InputError(
                f"{path}:{lineno}: 'workload' must be one of {', '.join(WORKLOAD_NAMES)}"
            )
        missing = [f for f in _FIELDS[rec["workload"]] if not isinstance(rec.get(f), str)]
        if missing:
            raise InputError(
                f"{path}:{lineno}: {rec['workload']} input needs string field(s) {missing}"
            )
        if rec["workload"] == workload and len(rows) < count:
            rows.append(_load_row(path, lineno, rec, max_new_tokens))
    if len(rows) < count:
        raise InputError(f"{path}: needs {count} {workload!r} inputs, found {len(rows)}")
    return rows


def _load_row(path: Path, lineno: int, rec: dict[str, Any], max_new_tokens: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rec["workload"] == "understanding" and "image" not in rec:
        out["images"] = []
    elif "image" in rec and not isinstance(rec["image"], str):
        raise InputError(f"{path}:{lineno}: 'image' must be a string path")
    elif "image" in rec or "image" in _FIELDS[rec["workload"]]:
        image_path = path.parent / rec["image"]
        try:
            with Image.open(image_path) as im:
                image = im.convert("RGB")
        except OSError as err:
            raise InputError(f"{path}:{lineno}: cannot open image {image_path}: {err}") from err
        if rec["workload"] == "understanding":
            out["images"] = [image]
        else:
            out["image"] = image
    for key in ("prompt", "instruction"):
        if key in rec:
            out[key] = rec[key]
    if rec["workload"] == "understanding":
        out["max_new_tokens"] = int(rec.get("max_new_tokens", max_new_tokens))
    return out


def load_inputs(
    source: str, workload: str, count: int, seed: int, max_new_tokens: int
) -> list[dict[str, Any]]:
    """Inputs from ``source``: ``"shapes"`` or the path of a JSONL file."""
    generators: dict[str, Callable[..., list[dict[str, Any]]]] = {"shapes": shapes_inputs}
    if source in generators:
        return generators[source](workload, count, seed, max_new_tokens)
    return file_inputs(Path(source), workload, count, max_new_tokens)

"""The shapes world's edit set in GEdit-Bench form.

Each shapes edit kind is named as a GEdit task type (``EDIT_KINDS``); the other five GEdit
types have no meaning for flat shapes and are reported as not covered
(``UNCOVERED_GEDIT_TYPES``). Edits are sampled from a fixed seed, so sample ids
(``<task_type>-<index>``) name the same edit in every run. An edit travels in an item as a
JSON-able dict (:func:`edit_to_dict`) and is rebuilt exactly for the shapes judge.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbench.worlds.shapes import (
    EDIT_KINDS,
    IMAGE_SIZE,
    UNCOVERED_GEDIT_TYPES,
    Edit,
    Scene,
    ShapeObject,
    caption,
    object_mask,
    sample_edit,
)

COVERED_TYPES: tuple[str, ...] = tuple(sorted(EDIT_KINDS))
NOT_COVERED_TYPES: tuple[str, ...] = tuple(sorted(UNCOVERED_GEDIT_TYPES))


def _obj(o: ShapeObject | None) -> dict[str, Any] | None:
    return (
        None
        if o is None
        else {"shape": o.shape, "color": o.color, "x": o.x, "y": o.y, "size": o.size}
    )


def edit_to_dict(edit: Edit) -> dict[str, Any]:
    """JSON-able form of an edit."""
    return {
        "kind": edit.kind,
        "instruction": edit.instruction,
        "source": edit.source.to_dict(),
        "expected": edit.expected.to_dict(),
        "target": _obj(edit.target),
        "result": _obj(edit.result),
        "cell": edit.cell,
    }


def edit_from_dict(d: dict[str, Any]) -> Edit:
    """Rebuild an edit; ``result`` is the very object inside ``expected`` (the checker needs that)."""
    try:
        source = Scene.from_dict(d["source"])
        expected = Scene.from_dict(d["expected"])
        target = None if d["target"] is None else ShapeObject(**d["target"])
        result = None
        if d["result"] is not None:
            wanted = ShapeObject(**d["result"])
            result = next(o for o in expected.objects if o == wanted)
        return Edit(d["kind"], d["instruction"], source, expected, target, result, d["cell"])
    except (KeyError, TypeError, StopIteration) as err:
        raise ValueError(f"not a valid shapes edit record ({err!r}): {str(d)[:200]}") from err


def shapes_edits(task_types: tuple[str, ...], per_type: int, seed: int) -> list[tuple[str, Edit]]:
    """``per_type`` edits of every covered type in ``task_types``, as (sample id, edit)."""
    out = []
    for kind in task_types:
        if kind not in EDIT_KINDS:
            raise ValueError(
                f"the shapes world has no {kind!r} edits; it covers {', '.join(COVERED_TYPES)}"
            )
        rng = np.random.default_rng([seed, EDIT_KINDS.index(kind)])
        out += [(f"{kind}-{i:03d}", sample_edit(rng, kind)) for i in range(per_type)]
    return sorted(out, key=lambda t: t[0])


def scene_caption(scene: Scene) -> str:
    """Caption of a scene, including the empty scene a removal can leave."""
    return caption(scene) if scene.objects else "zero objects ."


def edited_region(edit: Edit, dilate: int = 1) -> np.ndarray:
    """Boolean (32, 32) mask of the pixels the edit may change.

    Object edits: the boxes of the acted-on object and of the produced object, grown by
    ``dilate`` pixels. Background change: every background pixel (everything outside
    the source objects).
    """
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    if edit.kind == "background_change":
        for o in edit.source.objects:
            mask |= object_mask(o)
        return ~mask
    for o in (edit.target, edit.result):
        if o is None:
            continue
        x0, y0, x1, y1 = o.box
        mask[max(0, y0 - dilate) : y1 + dilate, max(0, x0 - dilate) : x1 + dilate] = True
    return mask

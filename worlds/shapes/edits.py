"""Edit instructions over shapes scenes, their expected results, and the exact edit checker.

Each edit kind maps onto a GEdit-Bench task type. The shapes world covers
``color_alter``, ``subject-add``, ``subject-remove``, ``subject-replace``,
``motion_change`` (move an object) and ``background_change``; the remaining GEdit types
(material_alter, ps_human, style_change, text_change, tone_transfer) have no meaning for
flat coloured shapes and are reported as not covered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .detect import DetectorConfig, background_of, detect, flat_objects
from .scene import (
    BACKGROUNDS,
    CELLS,
    COLORS,
    SHAPES,
    PlacementError,
    Scene,
    ShapeObject,
    cell_of,
    place,
    sample_scene,
)

EDIT_KINDS: tuple[str, ...] = (
    "color_alter", "subject-add", "subject-remove", "subject-replace", "motion_change",
    "background_change",
)  # fmt: skip
UNCOVERED_GEDIT_TYPES: tuple[str, ...] = (
    "material_alter", "ps_human", "style_change", "text_change", "tone_transfer",
)  # fmt: skip
EDIT_WORDS: tuple[str, ...] = (
    "change", "to", "add", "remove", "replace", "with", "move", "background",
    *BACKGROUNDS, "left", "right", "top", "bottom", "center",
)  # fmt: skip
POSITION_TOLERANCE = 3.0  # px: an unchanged object may drift this far and still match


@dataclass(frozen=True)
class Edit:
    """A structured edit: what to do, to which object, and the expected result."""

    kind: str
    instruction: str
    source: Scene
    expected: Scene
    target: ShapeObject | None = None  # object the edit acts on (None for add/background)
    result: ShapeObject | None = None  # object the edit produces (None for remove/background)
    cell: str | None = None  # required cell of ``result`` for add/move


def _pick_unique(scene: Scene, rng: np.random.Generator) -> ShapeObject:
    uniq = [o for o in scene.objects if scene.count(shape=o.shape, color=o.color) == 1]
    return uniq[int(rng.integers(len(uniq)))]


def _other(values: tuple[str, ...], current: str, rng: np.random.Generator) -> str:
    choices = [v for v in values if v != current]
    return choices[int(rng.integers(len(choices)))]


def make_edit(kind: str, source: Scene, rng: np.random.Generator) -> Edit:
    """A random edit of ``kind`` on ``source`` (PlacementError if the scene has no room)."""
    if kind == "background_change":
        return make_edit_to(
            kind, source, (_other(tuple(BACKGROUNDS), source.background, rng),), rng
        )
    if kind == "subject-add":
        shape, color = SHAPES[rng.integers(3)], COLORS[rng.integers(len(COLORS))]
        while source.count(shape=shape, color=color):
            shape, color = SHAPES[rng.integers(3)], COLORS[rng.integers(len(COLORS))]
        return make_edit_to(kind, source, (color, shape, CELLS[int(rng.integers(len(CELLS)))]), rng)
    if kind not in EDIT_KINDS:
        raise ValueError(f"unknown edit kind {kind!r}; expected one of {', '.join(EDIT_KINDS)}")
    t = _pick_unique(source, rng)
    params: dict[str, tuple[str, ...]] = {
        "subject-remove": (t.color, t.shape),
        "color_alter": (t.color, t.shape, _other(COLORS, t.color, rng)),
        "subject-replace": (
            t.color,
            t.shape,
            _other(COLORS, t.color, rng),
            _other(SHAPES, t.shape, rng),
        ),
        "motion_change": (t.color, t.shape, _other(CELLS, t.cell, rng)),
    }
    return make_edit_to(kind, source, params[kind], rng)


def make_edit_to(
    kind: str, source: Scene, params: tuple[str, ...], rng: np.random.Generator
) -> Edit:
    """The edit of ``kind`` with explicit parameters (see :func:`make_edit` for their order).

    Placements for added and moved objects are drawn from ``rng``.
    """
    objs = list(source.objects)
    bg = source.background
    if kind == "background_change":
        return Edit(
            kind,
            f"change the background to {params[0]} .",
            source,
            replace(source, background=params[0]),
        )
    if kind == "subject-add":
        color, shape, cell = params
        new = place(rng, shape, color, objs, cell=cell, margin=1.0)
        return Edit(
            kind,
            f"add {_a(color)} {color} {shape} in the {cell} .",
            source,
            Scene((*objs, new), bg),
            None,
            new,
            cell,
        )
    target = source.find(params[1], params[0])
    rest = [o for o in objs if o is not target]
    if kind == "subject-remove":
        return Edit(kind, f"remove the {target.name} .", source, Scene(tuple(rest), bg), target)
    if kind == "motion_change":
        cell = params[2]
        new = place(rng, target.shape, target.color, rest, cell=cell, size=target.size, margin=1.0)
        return Edit(
            kind,
            f"move the {target.name} to the {cell} .",
            source,
            Scene((*rest, new), bg),
            target,
            new,
            cell,
        )
    if kind == "color_alter":
        new = replace(target, color=params[2])
        instr = f"change the color of the {target.name} to {new.color} ."
    elif kind == "subject-replace":
        new = replace(target, color=params[2], shape=params[3])
        instr = f"replace the {target.name} with {_a(new.color)} {new.name} ."
    else:
        raise ValueError(f"unknown edit kind {kind!r}; expected one of {', '.join(EDIT_KINDS)}")
    if any(o.shape == new.shape and o.color == new.color for o in rest):
        raise PlacementError("the edit would duplicate an existing object")
    return Edit(kind, instr, source, Scene((*rest, new), bg), target, new)


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def sample_edit(
    rng: np.random.Generator, kind: str, min_objects: int = 1, max_objects: int = 3
) -> Edit:
    """A random source scene and an edit of ``kind`` on it."""
    for _ in range(100):
        n = int(rng.integers(min_objects, max_objects + 1))
        source = sample_scene(rng, n, distinct=True)
        try:
            return make_edit(kind, source, rng)
        except PlacementError:
            continue
    raise PlacementError(f"could not sample a {kind} edit")


@dataclass(frozen=True)
class EditCheck:
    """Outcome of checking an edited image against the expected scene."""

    fulfilled: bool  # the instruction was carried out
    preserved: bool  # nothing else changed
    missing: int  # expected objects not found
    extra: int  # detected objects not expected
    reason: str

    @property
    def success(self) -> bool:
        return self.fulfilled and self.preserved


def _matches(
    obj: ShapeObject, shape: str, color: str, center: tuple[float, float], cell: str | None
) -> bool:
    if (shape, color) != (obj.shape, obj.color):
        return False
    if cell is not None:
        return cell_of(*center) == cell
    return (
        abs(center[0] - obj.center[0]) <= POSITION_TOLERANCE
        and abs(center[1] - obj.center[1]) <= POSITION_TOLERANCE
    )


def check_edit(
    edit: Edit, image: np.ndarray, cfg: DetectorConfig = DetectorConfig(), min_score: float = 0.3
) -> EditCheck:
    """Compare an edited image with the edit's expected scene, exactly."""
    found = [
        (shape, d.color, ((d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2))
        for shape, d in flat_objects(detect(image, cfg), min_score)
    ]
    unused = list(range(len(found)))
    matched: dict[int, bool] = {}
    # Constrained objects (exact position) first, then cell-constrained results.
    order = sorted(
        range(len(edit.expected.objects)), key=lambda i: edit.expected.objects[i] is edit.result
    )
    for i in order:
        obj = edit.expected.objects[i]
        cell = edit.cell if obj is edit.result else None
        hit = next((j for j in unused if _matches(obj, *found[j], cell)), None)
        matched[i] = hit is not None
        if hit is not None:
            unused.remove(hit)
    missing = [edit.expected.objects[i].name for i, ok in matched.items() if not ok]
    extra = [f"{found[j][1]} {found[j][0]}" for j in unused]
    bg = background_of(image, cfg)
    result_ok = edit.result is None or matched[edit.expected.objects.index(edit.result)]
    if edit.kind == "background_change":
        fulfilled = bg == edit.expected.background
    elif edit.kind == "subject-remove":
        assert edit.target is not None
        fulfilled = not any(_matches(edit.target, s, c, ctr, None) for s, c, ctr in found)
    else:
        fulfilled = result_ok
    others_missing = [m for m in missing if edit.result is None or m != edit.result.name]
    bg_kept = edit.kind == "background_change" or bg == edit.source.background
    preserved = not others_missing and not extra and bg_kept
    reasons = []
    if not fulfilled:
        reasons.append(f"instruction not fulfilled ({edit.kind})")
    if others_missing:
        reasons.append("missing: " + ", ".join(others_missing))
    if extra:
        reasons.append("unexpected: " + ", ".join(extra))
    if not bg_kept:
        reasons.append(f"background changed to {bg}")
    return EditCheck(fulfilled, preserved, len(missing), len(extra), "; ".join(reasons) or "ok")

"""Scene model and seeded scene sampling for the shapes world.

A scene is a set of filled shapes on a plain background in a 32x32 image. Boxes use
pixel coordinates ``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, the same convention
as GenEval's ``(x1, y1, x2, y2)`` detector boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

IMAGE_SIZE = 32
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
# Pure, well-separated colours (RGB). Names are a subset of GenEval's ten colours.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 60, 220),
    "yellow": (235, 215, 30),
    "purple": (140, 40, 170),
    "orange": (245, 130, 20),
}
COLORS: tuple[str, ...] = tuple(PALETTE)
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "grey": (210, 210, 210),
    "white": (250, 250, 250),
    "black": (25, 25, 25),
}
DEFAULT_BACKGROUND = "grey"
MIN_SIZE, MAX_SIZE = 9, 12
MIN_GAP = 2  # pixels between the boxes of two objects
# 3x3 grid of named cells used by captions and edit instructions.
CELLS: tuple[str, ...] = (
    "top left", "top", "top right",
    "left", "center", "right",
    "bottom left", "bottom", "bottom right",
)  # fmt: skip
NUMBER_WORDS = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass(frozen=True)
class ShapeObject:
    """One filled shape; ``(x, y)`` is the top-left corner of its square box."""

    shape: str
    color: str
    x: int
    y: int
    size: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.size, self.y + self.size)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.size / 2, self.y + self.size / 2)

    @property
    def cell(self) -> str:
        return cell_of(*self.center)

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"

    def moved_to(self, x: int, y: int) -> ShapeObject:
        return replace(self, x=x, y=y)


@dataclass(frozen=True)
class Scene:
    """An ordered set of non-overlapping shapes on a named background."""

    objects: tuple[ShapeObject, ...]
    background: str = DEFAULT_BACKGROUND

    def count(self, shape: str | None = None, color: str | None = None) -> int:
        return sum(
            1
            for o in self.objects
            if (shape is None or o.shape == shape) and (color is None or o.color == color)
        )

    def find(self, shape: str, color: str) -> ShapeObject:
        """The unique object with this shape and colour (ValueError otherwise)."""
        hits = [o for o in self.objects if o.shape == shape and o.color == color]
        if len(hits) != 1:
            raise ValueError(f"expected exactly one {color} {shape}, scene has {len(hits)}")
        return hits[0]

    def reading_order(self) -> tuple[ShapeObject, ...]:
        """Objects sorted top-to-bottom by cell row, then left-to-right."""
        return tuple(sorted(self.objects, key=lambda o: (CELLS.index(o.cell), o.x, o.y)))

    def to_dict(self) -> dict:
        return {
            "background": self.background,
            "objects": [
                {"shape": o.shape, "color": o.color, "x": o.x, "y": o.y, "size": o.size}
                for o in self.objects
            ],
        }

    @staticmethod
    def from_dict(d: dict) -> Scene:
        objs = tuple(ShapeObject(**o) for o in d["objects"])
        return Scene(objs, d.get("background", DEFAULT_BACKGROUND))


def cell_of(cx: float, cy: float) -> str:
    """Name of the 3x3 grid cell containing the point ``(cx, cy)``."""
    third = IMAGE_SIZE / 3
    col = min(int(cx // third), 2)
    row = min(int(cy // third), 2)
    return CELLS[row * 3 + col]


def cell_bounds(cell: str) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` of a grid cell in pixels."""
    i = CELLS.index(cell)
    third = IMAGE_SIZE / 3
    r, c = divmod(i, 3)
    return (c * third, r * third, (c + 1) * third, (r + 1) * third)


def boxes_apart(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int) -> bool:
    """True when two boxes are separated by at least ``gap`` pixels on some axis."""
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def fits(obj: ShapeObject, others: tuple[ShapeObject, ...] | list[ShapeObject]) -> bool:
    """Inside the image and at least ``MIN_GAP`` pixels from every other object."""
    x0, y0, x1, y1 = obj.box
    if x0 < 0 or y0 < 0 or x1 > IMAGE_SIZE or y1 > IMAGE_SIZE:
        return False
    return all(boxes_apart(obj.box, o.box, MIN_GAP) for o in others)


class PlacementError(RuntimeError):
    """No free place for an object after the allowed number of tries."""


def place(
    rng: np.random.Generator,
    shape: str,
    color: str,
    others: list[ShapeObject],
    *,
    cell: str | None = None,
    size: int | None = None,
    margin: float = 0.0,
    tries: int = 400,
) -> ShapeObject:
    """Sample a free position for a shape, optionally with its centre inside ``cell``.

    ``margin`` keeps the centre that many pixels away from the cell's borders, so the
    cell a caption names is unambiguous.
    """
    for _ in range(tries):
        s = int(size if size is not None else rng.integers(MIN_SIZE, MAX_SIZE + 1))
        x = int(rng.integers(0, IMAGE_SIZE - s + 1))
        y = int(rng.integers(0, IMAGE_SIZE - s + 1))
        obj = ShapeObject(shape, color, x, y, s)
        if not _in_cell(obj, cell, margin):
            continue
        if fits(obj, others):
            return obj
    # Rare crowded cases: enumerate every candidate, so a free spot is found when one exists.
    sizes = [size] if size is not None else list(range(MIN_SIZE, MAX_SIZE + 1))
    candidates = [
        ShapeObject(shape, color, x, y, s)
        for s in sizes
        for x in range(IMAGE_SIZE - s + 1)
        for y in range(IMAGE_SIZE - s + 1)
    ]
    ok = [o for o in candidates if _in_cell(o, cell, margin) and fits(o, others)]
    if ok:
        return ok[int(rng.integers(len(ok)))]
    raise PlacementError(f"could not place a {color} {shape} (cell={cell}) among {len(others)}")


def _in_cell(obj: ShapeObject, cell: str | None, margin: float) -> bool:
    if cell is None:
        return margin <= 0 or not _near_cell_border(obj.center, margin)
    cx0, cy0, cx1, cy1 = cell_bounds(cell)
    cx, cy = obj.center
    return cx0 + margin <= cx < cx1 - margin and cy0 + margin <= cy < cy1 - margin


def _near_cell_border(center: tuple[float, float], margin: float) -> bool:
    third = IMAGE_SIZE / 3
    return any(abs(v - third * k) < margin for v in center for k in (1, 2))


def sample_scene(
    rng: np.random.Generator,
    n_objects: int,
    *,
    distinct: bool = True,
    margin: float = 0.0,
    background: str = DEFAULT_BACKGROUND,
) -> Scene:
    """Sample ``n_objects`` shapes; with ``distinct`` no (colour, shape) pair repeats."""
    for _ in range(50):
        objs: list[ShapeObject] = []
        used: set[tuple[str, str]] = set()
        try:
            for _ in range(n_objects):
                while True:
                    shape = SHAPES[rng.integers(len(SHAPES))]
                    color = COLORS[rng.integers(len(COLORS))]
                    if not distinct or (shape, color) not in used:
                        break
                used.add((shape, color))
                objs.append(place(rng, shape, color, objs, margin=margin))
        except PlacementError:
            continue
        return Scene(tuple(objs), background)
    raise PlacementError(f"could not sample a scene with {n_objects} objects")

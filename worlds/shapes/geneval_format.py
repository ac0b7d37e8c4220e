"""GenEval-format prompt metadata over any vocabulary, and shapes scenes that satisfy it.

The templates and tag rules follow the official GenEval prompt set
(``evaluation_metadata.jsonl``): ``a photo of a/an <object>``; counts two..four with an
exclude at count + 1; distinct colours for ``color_attr``; no colour prompts for
``person``; relations ``left of``, ``right of``, ``above``, ``below`` with the second
include group pointing at group 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .scene import (
    COLORS,
    IMAGE_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    NUMBER_WORDS,
    SHAPES,
    PlacementError,
    Scene,
    ShapeObject,
    fits,
    place,
)

TAGS: tuple[str, ...] = (
    "single_object", "two_object", "counting", "colors", "position", "color_attr",
)  # fmt: skip
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
GENEVAL_COLORS: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
)  # fmt: skip


def article(word: str) -> str:
    """English indefinite article for the next word."""
    return "an" if word[0] in "aeiou" else "a"


def plural(noun: str) -> str:
    """Plural of a class name by the official GenEval rule: ``+es`` after a final "s", else ``+s``.

    The official prompt set keeps this rule's results ("two sheeps", "three persons",
    "four knifes", "two benchs"), so matching it reproduces the official prompts exactly.
    """
    return noun + "es" if noun.endswith("s") else noun + "s"


def _phrase(cls: str, color: str | None = None) -> str:
    words = f"{color} {cls}" if color else cls
    return f"{article(words)} {words}"


def make_metadata(
    tag: str,
    rng: np.random.Generator,
    classes: Sequence[str],
    colors: Sequence[str] = GENEVAL_COLORS,
) -> dict:
    """One GenEval metadata record for ``tag`` over the given vocabulary."""
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    colorable = [c for c in classes if c != "person"]
    if tag == "single_object":
        a = pick(classes)
        return {
            "tag": tag,
            "include": [{"class": a, "count": 1}],
            "prompt": f"a photo of {_phrase(a)}",
        }
    if tag == "two_object":
        a, b = (classes[i] for i in rng.choice(len(classes), 2, replace=False))
        return {
            "tag": tag,
            "include": [{"class": a, "count": 1}, {"class": b, "count": 1}],
            "prompt": f"a photo of {_phrase(a)} and {_phrase(b)}",
        }
    if tag == "counting":
        a, n = pick(classes), int(rng.integers(2, 5))
        return {
            "tag": tag,
            "include": [{"class": a, "count": n}],
            "exclude": [{"class": a, "count": n + 1}],
            "prompt": f"a photo of {NUMBER_WORDS[n]} {plural(a)}",
        }
    if tag == "colors":
        a, c = pick(colorable), pick(colors)
        return {
            "tag": tag,
            "include": [{"class": a, "count": 1, "color": c}],
            "prompt": f"a photo of {_phrase(a, c)}",
        }
    if tag == "position":
        a, b = (classes[i] for i in rng.choice(len(classes), 2, replace=False))
        rel = pick(RELATIONS)
        return {
            "tag": tag,
            "include": [{"class": a, "count": 1}, {"class": b, "count": 1, "position": [rel, 0]}],
            "prompt": f"a photo of {_phrase(b)} {rel} {_phrase(a)}",
        }
    if tag == "color_attr":
        a, b = (colorable[i] for i in rng.choice(len(colorable), 2, replace=False))
        ca, cb = (colors[i] for i in rng.choice(len(colors), 2, replace=False))
        return {
            "tag": tag,
            "include": [
                {"class": a, "count": 1, "color": ca},
                {"class": b, "count": 1, "color": cb},
            ],
            "prompt": f"a photo of {_phrase(a, ca)} and {_phrase(b, cb)}",
        }
    raise ValueError(f"unknown GenEval tag {tag!r}; expected one of {', '.join(TAGS)}")


def make_metadata_set(
    n_per_tag: int,
    seed: int,
    classes: Sequence[str],
    colors: Sequence[str] = GENEVAL_COLORS,
    tags: Sequence[str] = TAGS,
) -> list[dict]:
    """``n_per_tag`` records per tag, seeded, in tag order (duplicates avoided when possible)."""
    rng = np.random.default_rng(seed)
    out: list[dict] = []
    for tag in tags:
        seen: set[str] = set()
        records: list[dict] = []
        for _ in range(n_per_tag * 50):
            if len(records) == n_per_tag:
                break
            rec = make_metadata(tag, rng, classes, colors)
            if rec["prompt"] in seen and len(seen) < n_per_tag:
                continue
            seen.add(rec["prompt"])
            records.append(rec)
        out.extend(records)
    return out


def shapes_metadata_set(n_per_tag: int, seed: int) -> list[dict]:
    """GenEval-format prompts over the shapes vocabulary (shapes as classes, palette colours)."""
    return make_metadata_set(n_per_tag, seed, SHAPES, COLORS)


# ---------------------------------------------------------------- scenes for a record

_MIN_REL_OFFSET = 6  # centroids at least this far apart along the named direction


def scene_for_metadata(meta: dict, rng: np.random.Generator, background: str = "grey") -> Scene:
    """A scene that satisfies a GenEval record exactly and holds nothing else.

    Colourless groups get a random palette colour. ``position`` groups are placed along
    the named direction with a clear margin, as GenEval's centre-offset rule needs.
    """
    for _ in range(200):
        try:
            return Scene(tuple(_place_groups(meta, rng)), background)
        except PlacementError:
            continue
    raise PlacementError(f"could not build a scene for {meta.get('prompt')!r}")


def _place_groups(meta: dict, rng: np.random.Generator) -> list[ShapeObject]:
    objs: list[ShapeObject] = []
    groups: list[list[ShapeObject]] = []
    for group in meta["include"]:
        color = group.get("color") or COLORS[int(rng.integers(len(COLORS)))]
        placed: list[ShapeObject] = []
        for _ in range(group["count"]):
            if "position" in group:
                rel, ref = group["position"]
                obj = _place_relative(rng, group["class"], color, groups[ref][0], rel, objs)
            else:
                obj = place(rng, group["class"], color, objs)
            objs.append(obj)
            placed.append(obj)
        groups.append(placed)
    return objs


def _place_relative(
    rng: np.random.Generator, shape: str, color: str, ref: ShapeObject, rel: str, others: list
) -> ShapeObject:
    """Place a shape ``rel`` of ``ref``: offset mostly along one axis, by a clear margin."""
    for _ in range(300):
        s = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
        x = int(rng.integers(0, IMAGE_SIZE - s + 1))
        y = int(rng.integers(0, IMAGE_SIZE - s + 1))
        obj = ShapeObject(shape, color, x, y, s)
        dx = obj.center[0] - ref.center[0]
        dy = obj.center[1] - ref.center[1]
        main, ortho = {
            "left of": (-dx, dy),
            "right of": (dx, dy),
            "above": (-dy, dx),
            "below": (dy, dx),
        }[rel]
        # Main-axis offset past GenEval's 0.1*(dim_a+dim_b) margin, and dominant over the other axis.
        if main - 0.1 * (s + ref.size) < _MIN_REL_OFFSET or abs(ortho) > 0.5 * main:
            continue
        if fits(obj, others):
            return obj
    raise PlacementError(f"no room for a {shape} {rel} the {ref.name}")

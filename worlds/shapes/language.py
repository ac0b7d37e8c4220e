"""Captions and questions over shapes scenes, with canonical answers.

Captions list every object in reading order with its grid cell, e.g.
``two objects . a red circle in the top left . a blue square in the bottom right .``
Questions ask for a count, a colour, a shape or a relation; answers are one word, and a
response to a question is scored by its last word (:func:`final_answer`), so a model may
describe the scene before answering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geneval_format import plural
from .scene import COLORS, NUMBER_WORDS, SHAPES, Scene, sample_scene

CAPTION_PROMPT = "describe the image ."
CAPTION_MARGIN = 1.5  # px: caption scenes keep centres this far from grid-cell borders
QA_KINDS: tuple[str, ...] = ("count", "color", "shape", "relation")


@dataclass(frozen=True)
class QA:
    """A question about a scene and its canonical one-word answer."""

    kind: str  # count | color | shape | relation
    question: str
    answer: str
    # The answer as a sentence that ends with the answer word ("the circle is red ."). For a
    # relation it states the true relation, then the answer ("the red circle is left of the
    # blue square . no .").
    statement: str = ""


def caption(scene: Scene) -> str:
    """Canonical detailed description of a scene."""
    objs = scene.reading_order()
    n = len(objs)
    head = f"{NUMBER_WORDS[n]} object{'s' if n != 1 else ''} ."
    parts = [f"a {o.color} {o.shape} in the {o.cell} ." for o in objs]
    return " ".join([head, *parts])


def caption_scene(rng: np.random.Generator, min_objects: int = 2, max_objects: int = 3) -> Scene:
    """A scene for the caption task: distinct objects, centres clear of cell borders."""
    n = int(rng.integers(min_objects, max_objects + 1))
    return sample_scene(rng, n, distinct=True, margin=CAPTION_MARGIN)


def vqa_scene(rng: np.random.Generator, min_objects: int = 1, max_objects: int = 4) -> Scene:
    """A scene for the VQA task: 1-4 objects, repeats allowed (so counts go above one)."""
    n = int(rng.integers(min_objects, max_objects + 1))
    return sample_scene(rng, n, distinct=False)


def sample_vqa(rng: np.random.Generator, kind: str | None = None) -> tuple[Scene, QA]:
    """A VQA scene and the first of its shuffled questions of ``kind``.

    Draws scenes until one allows a question of ``kind``; ``kind`` None picks a kind
    uniformly among :data:`QA_KINDS` on each draw, after the scene's questions. The
    understanding suite and the shapes models' training both sample through this, so the
    same seed gives the same question to both.
    """
    while True:
        scene = vqa_scene(rng)
        qs = questions(scene, rng)
        want = kind or QA_KINDS[int(rng.integers(len(QA_KINDS)))]
        hits = [q for q in qs if q.kind == want]
        if hits:
            return scene, hits[0]


def _horizontal(a, b) -> str | None:
    dx = a.center[0] - b.center[0]
    dy = a.center[1] - b.center[1]
    if abs(dx) >= 6 and abs(dx) > 2 * abs(dy):
        return "left of" if dx < 0 else "right of"
    if abs(dy) >= 6 and abs(dy) > 2 * abs(dx):
        return "above" if dy < 0 else "below"
    return None


def questions(scene: Scene, rng: np.random.Generator) -> list[QA]:
    """All well-posed questions about a scene (a subset, shuffled by ``rng``)."""
    qs: list[QA] = []
    for shape in SHAPES:
        n = scene.count(shape=shape)
        word = NUMBER_WORDS.get(n, "zero") if n else "zero"
        name = plural(shape)
        qs.append(QA("count", f"how many {name} are there ?", word, f"{name} {word} ."))
    for o in scene.objects:
        if scene.count(shape=o.shape) == 1:
            q = f"what color is the {o.shape} ?"
            qs.append(QA("color", q, o.color, f"the {o.shape} is {o.color} ."))
        if scene.count(color=o.color) == 1:
            q = f"what shape is the {o.color} object ?"
            qs.append(QA("shape", q, o.shape, f"the {o.color} object is a {o.shape} ."))
    uniq = [o for o in scene.objects if scene.count(shape=o.shape, color=o.color) == 1]
    for a in uniq:
        for b in uniq:
            if a is b:
                continue
            rel = _horizontal(a, b)
            if rel is None:
                continue
            # Ask the true relation and a false one with equal probability.
            asked = rel if rng.random() < 0.5 else _opposite(rel)
            answer = "yes" if asked == rel else "no"
            fact = f"the {a.name} is {rel} the {b.name} . {answer} ."
            qs.append(QA("relation", f"is the {a.name} {asked} the {b.name} ?", answer, fact))
    order = rng.permutation(len(qs))
    return [qs[i] for i in order]


def final_answer(text: str) -> str:
    """The one-word answer of a VQA response: its last word (responses may reason first)."""
    words = [w for w in text.split() if w not in (".", "?")]
    return words[-1] if words else ""


def _opposite(rel: str) -> str:
    return {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}[rel]


def vocabulary() -> list[str]:
    """Every word captions, questions, prompts and instructions can use."""
    from .edits import EDIT_WORDS  # local: edits imports this module

    words = {
        ".",
        "?",
        "a",
        "an",
        "the",
        "in",
        "of",
        "is",
        "are",
        "there",
        "how",
        "many",
        "what",
        "color",
        "shape",
        "object",
        "objects",
        "describe",
        "image",
        "photo",
        "and",
        "yes",
        "no",
        "zero",
        "left",
        "right",
        "above",
        "below",
        "top",
        "bottom",
        "center",
    }
    words |= set(SHAPES) | {plural(s) for s in SHAPES} | set(COLORS)
    words |= set(NUMBER_WORDS.values())
    words |= set(EDIT_WORDS)
    return sorted(words)

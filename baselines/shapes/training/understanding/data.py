"""Training and evaluation examples from the shapes world (caption and VQA)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from hbench.baselines.shapes.understanding.tokenizer import prompt_ids
from hbench.worlds.shapes import (
    CAPTION_PROMPT,
    COLORS,
    QA,
    SHAPES,
    Scene,
    ShapeObject,
    caption,
    caption_scene,
    render,
    sample_vqa,
)


@dataclass(frozen=True)
class Example:
    """One (image, prompt, answer) triple and the response the target is trained to give."""

    image: np.ndarray
    prompt: str
    answer: str  # canonical answer (the whole caption, or one VQA word)
    task: str  # caption | count | color | shape | relation
    objects: tuple[tuple[float, float, str, str], ...] = ()  # (centre x, centre y, shape, colour)
    response: str = ""  # what the target says; "" means the answer itself

    @property
    def target_text(self) -> str:
        return self.response or self.answer


def _objects(scene) -> tuple[tuple[float, float, str, str], ...]:
    return tuple((*o.center, o.shape, o.color) for o in scene.objects)


def caption_example(rng: np.random.Generator) -> Example:
    scene = caption_scene(rng)
    return Example(render(scene), CAPTION_PROMPT, caption(scene), "caption", _objects(scene))


# What the target is trained to say to a question. ``reasoned`` describes the scene before
# the one-word answer: the question becomes a lookup over the model's own words (a one-word
# response must bind colour, shape and position in a single forward), and VQA responses get
# long enough for decoding speed to matter. ``restated`` follows the description with the
# answer as a sentence that repeats the queried object ("the circle is red ."), so the
# lookup is keyed by the token just written, not by a word of the question far back.
# Scoring reads the last word in every format.
def _relation_pair(scene: Scene, qa: QA) -> tuple[ShapeObject, ShapeObject]:
    """The two objects of a relation question, in question order."""
    # is the <color> <shape> <relation> the <color> <shape> ?
    a = next(o for o in scene.objects if qa.question.startswith(f"is the {o.name} "))
    b = next(o for o in scene.objects if qa.question.endswith(f" the {o.name} ?"))
    return a, b


# How the object list of a ``keyed``, ``marked`` or ``flagged`` response writes one object, per
# question kind, as (key part, asked part): the question's key attribute first, then the asked
# one (a relation's cell decides it).
_PARTS: dict[str, Callable[[ShapeObject], tuple[str, ...]]] = {
    "color": lambda o: (o.shape, o.color),  # what color is the <shape> ?
    "shape": lambda o: (o.color, o.shape),  # what shape is the <color> object ?
    "count": lambda o: (o.shape,),  # how many <shapes> are there ?
    "relation": lambda o: (o.name, o.cell),
}
_ITEM: dict[str, Callable[[ShapeObject], str]] = {
    kind: (lambda o, parts=parts: " ".join(parts(o))) for kind, parts in _PARTS.items()
}
# The repeated key of a ``keyed`` response; a question's key word sits at a fixed place.
_KEY: dict[str, Callable[[Scene, QA], str]] = {
    "color": lambda scene, qa: qa.question.split()[4],
    "shape": lambda scene, qa: qa.question.split()[4],
    "count": lambda scene, qa: qa.question.split()[2],
    "relation": lambda scene, qa: " ".join(map(_ITEM["relation"], _relation_pair(scene, qa))),
}


def _listed(
    scene: Scene, kind: str, marks: dict[ShapeObject, str] | None = None, after_key: bool = False
) -> list[str]:
    """The object list in reading order; a marked object carries its marker before the item,
    or with ``after_key`` between the item's key part and its asked part."""
    marks = marks or {}

    def item(o: ShapeObject) -> str:
        if o not in marks:
            return _ITEM[kind](o)
        if not after_key:
            return f"{marks[o]} {_ITEM[kind](o)}"
        key, *asked = _PARTS[kind](o)
        return " ".join([key, marks[o], *asked])

    return [f"{item(o)} ." for o in scene.reading_order()]


# ``keyed`` lists the objects with the question's key attribute *before* the asked one,
# repeats the key, then answers: the answer then follows the token just written exactly as
# it follows that token in the list, the copy an induction head makes. A lookup whose
# answer comes before its key (the caption's "red circle" for "what color is the circle")
# stayed at 0.5 in a text-only probe where this order reached 1.0 within 250 steps.
def keyed_response(scene: Scene, qa: QA) -> str:
    """The ``keyed`` VQA response: a key-first object list, the key again, the answer."""
    if qa.kind not in _KEY:
        raise ValueError(f"no keyed response for question kind {qa.kind!r}")
    return " ".join([*_listed(scene, qa.kind), _KEY[qa.kind](scene, qa), qa.answer])


# ``marked`` is ``keyed`` with the repeated key replaced by a marker word that the question
# never contains: "yes" before the queried object in the list, "one" / "two" before a
# relation's two objects. A text-only probe (question, then the list, then the key) stayed
# at 0.47 with the question's own word as the key, whose first occurrence is in the
# question, and reached 1.0 within 250 steps with a marker. Counts keep the keyed response.
_MARKS: dict[str, Callable[[Scene, QA], dict[ShapeObject, str]]] = {
    "color": lambda scene, qa: {
        o: "yes" for o in scene.objects if o.shape == _KEY["color"](scene, qa)
    },
    "shape": lambda scene, qa: {
        o: "yes" for o in scene.objects if o.color == _KEY["shape"](scene, qa)
    },
    "relation": lambda scene, qa: dict(zip(_relation_pair(scene, qa), ("one", "two"), strict=True)),
}


def marked_response(scene: Scene, qa: QA) -> str:
    """The ``marked`` VQA response: a list with the queried objects marked, the marked again,
    the answer."""
    if qa.kind not in _MARKS:
        return keyed_response(scene, qa)
    marks = _MARKS[qa.kind](scene, qa)  # dict order = question order ("one" before "two")
    key = " ".join(f"{m} {_ITEM[qa.kind](o)}" for o, m in marks.items())
    # a marked colour / shape item already ends with its answer; a relation's does not
    tail = [key] if qa.kind != "relation" else [key, qa.answer]
    return " ".join([*_listed(scene, qa.kind, marks), *tail])


# ``flagged`` moves ``marked``'s marker behind the item's key part ("square yes purple ."), so
# placing it compares the word just written with the question's, where ``marked`` had to
# foresee the next object before writing it (most of ``marked``'s errors were misplaced
# markers; ``keyed``'s were wrong copies after a correct list). The tail names the markers
# again and copies what follows each: "yes purple", "one top left two center no".
def flagged_response(
    scene: Scene,
    qa: QA,
    kinds: tuple[str, ...] = tuple(_MARKS),
    lookup_flag: str = "yes",
    axis_tail: bool = False,
) -> str:
    """The ``flagged`` VQA response for ``kinds`` (others get the keyed response).

    ``lookup_flag`` is the colour / shape flag word; ``axis_tail`` makes a relation's tail
    name only each object's row (above / below) or column (left of / right of).
    """
    if qa.kind not in kinds or qa.kind not in _MARKS:
        return keyed_response(scene, qa)
    marks = {o: lookup_flag if m == "yes" else m for o, m in _MARKS[qa.kind](scene, qa).items()}
    if axis_tail and qa.kind == "relation":
        asked = lambda o: _axis_word(o, qa)  # noqa: E731
    else:
        asked = lambda o: " ".join(_PARTS[qa.kind](o)[1:])  # noqa: E731
    # dict order = question order ("one" before "two")
    tail = [f"{m} {asked(o)}" for o, m in marks.items()]
    if qa.kind == "relation":  # a relation's cells are copied; the answer follows from them
        tail.append(qa.answer)
    return " ".join([*_listed(scene, qa.kind, marks, after_key=True), *tail])


def _axis_word(o: ShapeObject, qa: QA) -> str:
    """The object's row (``top`` / ``center`` / ``bottom``) for above / below questions, its
    column (``left`` / ``center`` / ``right``) for left of / right of."""
    ends = (
        ("top", "bottom")
        if (" above " in qa.question or " below " in qa.question)
        else ("left", "right")
    )
    return next((w for w in o.cell.split() if w in ends), "center")


# ``flagged-axis`` (experimental): the shipped target answered relations "no" whatever the
# cells (yes in 44 of 200), and ``yes`` also flags colour / shape answers; here lookups are
# flagged with ``with`` (in no question), and a relation's tail reduces each cell to the one
# word the relation compares (3 x 3 x 4 cases).
VQA_RESPONSES: dict[str, Callable[[Scene, QA], str]] = {
    "word": lambda scene, qa: qa.answer,
    "reasoned": lambda scene, qa: f"{caption(scene)} {qa.answer}",
    "restated": lambda scene, qa: f"{caption(scene)} {qa.statement}",
    "keyed": keyed_response,
    "marked": marked_response,
    "flagged": flagged_response,
    # flagged lookups (colour, shape), keyed counts and relations
    "flagged-lookup": lambda scene, qa: flagged_response(scene, qa, kinds=("color", "shape")),
    "flagged-axis": lambda scene, qa: flagged_response(
        scene, qa, lookup_flag="with", axis_tail=True
    ),
}


def vqa_example(
    rng: np.random.Generator, kind: str | None = None, response: str = "word"
) -> Example:
    """A VQA example; ``kind`` None picks a kind uniformly among those the scene allows.

    ``response`` names the trained response format (:data:`VQA_RESPONSES`).
    """
    respond = VQA_RESPONSES[response]
    scene, q = sample_vqa(rng, kind)
    return Example(
        render(scene), q.question, q.answer, q.kind, _objects(scene), response=respond(scene, q)
    )


def sample_example(
    rng: np.random.Generator, caption_frac: float = 0.5, vqa_response: str = "word"
) -> Example:
    if rng.random() < caption_frac:
        return caption_example(rng)
    return vqa_example(rng, response=vqa_response)


def collate(tok, examples: list[Example], prefix_len: int) -> dict[str, torch.Tensor]:
    """Right-padded batch: images, token ids and labels (prefix and prompt masked with -100).

    ``answer_pos`` marks the label position of the answer word of reasoned VQA responses
    (where the description ends and the lookup happens), for an optional loss weight.
    """
    seqs, labs, marks = [], [], []
    for ex in examples:
        p = prompt_ids(tok, ex.prompt)
        a = [*tok.encode(ex.target_text, add_special_tokens=False), tok.eos_token_id]
        seqs.append(p + a)
        labs.append([-100] * len(p) + a)
        marks.append(len(p) + len(a) - 2 if ex.target_text != ex.answer else -1)
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), tok.pad_token_id, dtype=torch.long)
    labels = torch.full((len(seqs), prefix_len + n), -100, dtype=torch.long)
    answer_pos = torch.zeros((len(seqs), prefix_len + n), dtype=torch.bool)
    for i, (s, lab, m) in enumerate(zip(seqs, labs, marks, strict=True)):
        ids[i, : len(s)] = torch.tensor(s)
        labels[i, prefix_len : prefix_len + len(lab)] = torch.tensor(lab)
        if m >= 0:
            answer_pos[i, prefix_len + m] = True
    imgs = np.stack([ex.image for ex in examples]).astype(np.float32) / 127.5 - 1.0
    images = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()
    # Probe targets on the 8x8 CNN map: the shape / colour whose centre lies in each cell.
    shape_map = torch.zeros((len(examples), 8, 8), dtype=torch.long)  # 0 = no object centre
    color_map = torch.zeros((len(examples), 8, 8), dtype=torch.long)
    for i, ex in enumerate(examples):
        for cx, cy, shape, color in ex.objects:
            cell = (i, min(int(cy // 4), 7), min(int(cx // 4), 7))
            shape_map[cell] = 1 + SHAPES.index(shape)
            color_map[cell] = 1 + COLORS.index(color)
    return {
        "images": images, "ids": ids, "labels": labels, "shape_map": shape_map,
        "color_map": color_map, "answer_pos": answer_pos,
    }  # fmt: skip

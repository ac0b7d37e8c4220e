"""Parsers from shapes-world text (prompts, questions, instructions) back to structure.

They invert the grammars of geneval_format, language and edits, so the oracle system can
answer from the scene a text describes. Unparseable text raises ``ValueError`` naming it.
"""

from __future__ import annotations

import re

import numpy as np

from .detect import DetectorConfig, background_of, detect, flat_objects
from .edits import Edit, make_edit_to
from .geneval_format import RELATIONS, plural
from .language import CAPTION_PROMPT, _horizontal, caption
from .scene import BACKGROUNDS, CELLS, COLORS, NUMBER_WORDS, SHAPES, Scene, ShapeObject

_WORD_NUM = {w: n for n, w in NUMBER_WORDS.items()}
_PLURALS = {plural(s): s for s in SHAPES}
_COLOR = "|".join(COLORS)
_SHAPE = "|".join(SHAPES)
_CELL = "|".join(sorted(CELLS, key=len, reverse=True))
_REL = "|".join(RELATIONS)
_OBJ = rf"(?:a|an) (?:(?P<{{c}}>{_COLOR}) )?(?P<{{s}}>{_SHAPE})"


def _obj(c: str, s: str) -> str:
    return _OBJ.format(c=c, s=s)


def parse_geneval_prompt(prompt: str) -> dict:
    """GenEval metadata (tag, include, exclude) of a shapes-world prompt."""
    p = prompt.strip().lower()
    m = re.fullmatch(rf"a photo of {_obj('c1', 's1')} ({_REL}) {_obj('c2', 's2')}", p)
    if m:
        rel = m.group(3)
        return {
            "tag": "position",
            "prompt": prompt,
            "include": [
                {"class": m["s2"], "count": 1},
                {"class": m["s1"], "count": 1, "position": [rel, 0]},
            ],
        }
    m = re.fullmatch(rf"a photo of {_obj('c1', 's1')} and {_obj('c2', 's2')}", p)
    if m:
        inc = [_group(m["s1"], 1, m["c1"]), _group(m["s2"], 1, m["c2"])]
        tag = "color_attr" if m["c1"] and m["c2"] else "two_object"
        return {"tag": tag, "prompt": prompt, "include": inc}
    m = re.fullmatch(rf"a photo of ({'|'.join(_WORD_NUM)}) ({'|'.join(_PLURALS)})", p)
    if m:
        n, s = _WORD_NUM[m[1]], _PLURALS[m[2]]
        return {
            "tag": "counting",
            "prompt": prompt,
            "include": [{"class": s, "count": n}],
            "exclude": [{"class": s, "count": n + 1}],
        }
    m = re.fullmatch(rf"a photo of {_obj('c1', 's1')}", p)
    if m:
        return {
            "tag": "colors" if m["c1"] else "single_object",
            "prompt": prompt,
            "include": [_group(m["s1"], 1, m["c1"])],
        }
    raise ValueError(f"not a shapes-world GenEval prompt: {prompt!r}")


def _group(shape: str, count: int, color: str | None) -> dict:
    g: dict = {"class": shape, "count": count}
    if color:
        g["color"] = color
    return g


def scene_from_image(
    image: np.ndarray, cfg: DetectorConfig = DetectorConfig(), min_score: float = 0.3
) -> Scene:
    """The scene an image shows, by the exact detector (boxes become square objects)."""
    objs = []
    for shape, d in flat_objects(detect(image, cfg), min_score):
        x0, y0, x1, y1 = (int(v) for v in d.box)
        objs.append(ShapeObject(shape, d.color or "red", x0, y0, max(x1 - x0, y1 - y0)))
    objs.sort(key=lambda o: (o.y, o.x))
    return Scene(tuple(objs), background_of(image, cfg) or "grey")


def answer(scene: Scene, question: str) -> str:
    """Canonical answer to a caption request or a shapes-world question."""
    q = question.strip().lower()
    if q == CAPTION_PROMPT:
        return caption(scene)
    m = re.fullmatch(rf"how many ({'|'.join(_PLURALS)}) are there \?", q)
    if m:
        n = scene.count(shape=_PLURALS[m[1]])
        return NUMBER_WORDS.get(n, "zero") if n else "zero"
    m = re.fullmatch(rf"what color is the ({_SHAPE}) \?", q)
    if m:
        hits = [o for o in scene.objects if o.shape == m[1]]
        return hits[0].color if hits else "none"
    m = re.fullmatch(rf"what shape is the ({_COLOR}) object \?", q)
    if m:
        hits = [o for o in scene.objects if o.color == m[1]]
        return hits[0].shape if hits else "none"
    m = re.fullmatch(rf"is the ({_COLOR}) ({_SHAPE}) ({_REL}) the ({_COLOR}) ({_SHAPE}) \?", q)
    if m:
        a = [o for o in scene.objects if (o.color, o.shape) == (m[1], m[2])]
        b = [o for o in scene.objects if (o.color, o.shape) == (m[4], m[5])]
        if not a or not b:
            return "no"
        return "yes" if _horizontal(a[0], b[0]) == m[3] else "no"
    raise ValueError(f"not a shapes-world question: {question!r}")


def parse_instruction(instruction: str, source: Scene, rng: np.random.Generator) -> Edit:
    """The edit an instruction asks for on ``source`` (placements drawn from ``rng``)."""
    t = instruction.strip().lower()
    patterns = [
        ("background_change", rf"change the background to ({'|'.join(BACKGROUNDS)}) \."),
        ("color_alter", rf"change the color of the ({_COLOR}) ({_SHAPE}) to ({_COLOR}) \."),
        ("subject-add", rf"add (?:a|an) ({_COLOR}) ({_SHAPE}) in the ({_CELL}) \."),
        ("subject-remove", rf"remove the ({_COLOR}) ({_SHAPE}) \."),
        (
            "subject-replace",
            rf"replace the ({_COLOR}) ({_SHAPE}) with (?:a|an) ({_COLOR}) ({_SHAPE}) \.",
        ),
        ("motion_change", rf"move the ({_COLOR}) ({_SHAPE}) to the ({_CELL}) \."),
    ]
    for kind, pat in patterns:
        m = re.fullmatch(pat, t)
        if m:
            return make_edit_to(kind, source, m.groups(), rng)
    raise ValueError(f"not a shapes-world edit instruction: {instruction!r}")

"""GenEval's relative-position rule (djghosh13/geneval ``evaluation/evaluate_images.py``).

A pure function over two boxes, shared downward by the GenEval suite's official scoring
(:mod:`hbench.tasks.geneval.rules`) and the shapes generator's training monitor, so the rule
is written once. Only numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def relative_position(
    box_a: Sequence[float], box_b: Sequence[float], threshold: float = 0.1
) -> set[str]:
    """Relations of box A to box B by the official centre-offset rule.

    >>> sorted(relative_position((0, 0, 10, 10), (20, 0, 30, 10)))
    ['left of']
    >>> relative_position((0, 0, 10, 10), (1, 0, 11, 10))
    set()
    """
    a = np.asarray(box_a[:4], dtype=np.float64).reshape(2, 2)
    b = np.asarray(box_b[:4], dtype=np.float64).reshape(2, 2)
    offset = a.mean(axis=0) - b.mean(axis=0)
    dims = np.abs(a[1] - a[0]) + np.abs(b[1] - b[0])
    revised = np.maximum(np.abs(offset) - threshold * dims, 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    rels = set()
    if dx < -0.5:
        rels.add("left of")
    if dx > 0.5:
        rels.add("right of")
    if dy < -0.5:
        rels.add("above")
    if dy > 0.5:
        rels.add("below")
    return rels

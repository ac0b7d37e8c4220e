"""Offline instruction prompts for text-only chat models (draft training data, eval prompts).

Two sources, both available on any machine without a network:

* ``pydoc``: questions written from the text of Python's bundled documentation topics
  (``pydoc_data.topics``, shipped with CPython): a topic's title ("Explain ... in a few
  sentences") and its prose paragraphs ("Explain this passage in simple words: ...").
* ``written``: instruction templates written here, crossed with a list of everyday subjects.

:func:`prompt_split` shuffles the union with a fixed seed and cuts it into disjoint train and
eval parts, so a draft head is never measured on a prompt it was trained on.
"""

from __future__ import annotations

import random
import re

SPLIT_SEED = 20_261_204

TEMPLATES: tuple[str, ...] = (
    "What is {s}? Answer in a short paragraph.",
    "Give three interesting facts about {s}.",
    "Write a haiku about {s}.",
    "Explain {s} to a ten-year-old.",
    "List the advantages and disadvantages of {s}.",
    "Write the opening of a short story about {s}.",
    "How would you describe {s} to someone who has never seen it?",
    "Why do people care about {s}?",
)

SUBJECTS: tuple[str, ...] = (
    "the moon", "photosynthesis", "bicycles", "coffee", "volcanoes", "the internet",
    "honeybees", "rainbows", "chess", "the ocean tides", "electric cars", "bread baking",
    "the human heart", "libraries", "earthquakes", "solar panels", "penguins", "jazz music",
    "the water cycle", "recycling", "mountains", "trains", "gardening", "the printing press",
    "clouds", "vaccines", "maps", "autumn leaves", "telescopes", "friendship", "deserts",
    "the Roman Empire", "sleep", "lighthouses", "origami", "glaciers", "batteries",
    "the piano", "spiders", "public parks", "snowflakes", "the stock market", "dinosaurs",
    "soap", "bridges", "tea ceremonies", "wind turbines", "octopuses", "museums", "rain",
)  # fmt: skip


def _pydoc_prompts() -> list[str]:
    from pydoc_data.topics import topics

    out = []
    for key in sorted(topics):
        text = topics[key]
        title = text.split("\n", 1)[0].strip()
        out.append(f"Explain {title} in Python in a few sentences.")
        for para in re.split(r"\n\s*\n", text):
            flat = " ".join(para.split())
            # Prose only: no code blocks, grammar rules or headings, and not too long.
            if 200 <= len(flat) <= 700 and "::=" not in flat and ">>>" not in flat:
                out.append(
                    f"Explain this passage from the Python documentation in simple words:\n\n{flat}"
                )
    return out


def _written_prompts() -> list[str]:
    return [t.format(s=s) for s in SUBJECTS for t in TEMPLATES]


def all_prompts() -> list[str]:
    """Every prompt of both sources, deduplicated, in a fixed order."""
    return list(dict.fromkeys(_pydoc_prompts() + _written_prompts()))


def prompt_split(n_eval: int = 200) -> tuple[list[str], list[str]]:
    """``(train, eval)``: disjoint, seeded shuffle of :func:`all_prompts`; ``n_eval`` held out."""
    prompts = all_prompts()
    if not 0 < n_eval < len(prompts):
        raise ValueError(f"n_eval must be in 1..{len(prompts) - 1}, got {n_eval}")
    random.Random(SPLIT_SEED).shuffle(prompts)
    return prompts[n_eval:], prompts[:n_eval]

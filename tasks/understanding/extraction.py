"""Answer extraction from free-form model output (documented rules, no LLM judge).

* **yes/no** (MME's official ``parse_pred_ans``): lower-case the output; if it *is* "yes"
  or "no" take it; otherwise look at its first four characters: "yes" inside -> yes, else
  "no" inside -> no, else "other" (scored wrong).
* **option letter** (MMBench / MMMU multiple choice): first a standalone letter among the
  offered options ("B", "B.", "(B)", "Answer: B", "B) ..."); when several different letters
  stand alone the answer is ambiguous; then, if no letter, the option whose text appears in
  the output (only when exactly one does). No match -> None (scored wrong, never guessed:
  MMMU's official parser picks a *random* option here, which we do not, for determinism).
* **open answers** (MMMU open questions): numbers found in the output are compared with
  the gold number (relative tolerance 1e-2 as float), otherwise normalised strings must be
  equal or the gold string must be contained in the output.
"""

from __future__ import annotations

import re

_LETTER = re.compile(r"(?<![A-Za-z])\(?([A-Z])\)?(?![A-Za-z])")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def extract_yes_no(text: str) -> str:
    """``yes``, ``no`` or ``other`` by MME's official rule."""
    t = text.strip().lower()
    if t in ("yes", "no"):
        return t
    head = t[:4]
    if "yes" in head:
        return "yes"
    if "no" in head:
        return "no"
    return "other"


def extract_option(text: str, options: dict[str, str]) -> str | None:
    """The option letter an output picks, or None when none (or several) can be read.

    Args:
        text: model output.
        options: letter -> option text, e.g. ``{"A": "red", "B": "blue"}``.
    """
    letters = {m.group(1) for m in _LETTER.finditer(text.strip()) if m.group(1) in options}
    # A lone "A" is also the English article: only trust letters when exactly one stands out.
    if len(letters) == 1:
        return letters.pop()
    if len(letters) > 1:
        first = _LETTER.match(text.strip())
        if first and first.group(1) in options:
            return first.group(1)  # "B. because A is ..." answers B
        return None
    low = text.lower()
    hits = [k for k, v in options.items() if v and str(v).strip().lower() in low]
    return hits[0] if len(hits) == 1 else None


def normalize(text: str) -> str:
    """Lower-case, strip punctuation at the ends and collapse spaces."""
    return " ".join(text.lower().strip().strip(".!?,;:").split())


def _numbers(text: str) -> list[float]:
    return [float(m.replace(",", "")) for m in _NUMBER.findall(text)]


def open_answer_correct(text: str, gold: str | list[str]) -> bool:
    """MMMU-style open answer check against one gold answer or a list of them."""
    golds = gold if isinstance(gold, list) else [gold]
    pred_nums = _numbers(text)
    pred = normalize(text)
    for g in golds:
        g = str(g)
        g_nums = _numbers(g)
        if (
            g_nums
            and len(g_nums) == 1
            and normalize(g).replace(",", "").lstrip("-").replace(".", "", 1).isdigit()
        ):
            if any(abs(p - g_nums[0]) <= 1e-2 * max(1.0, abs(g_nums[0])) for p in pred_nums):
                return True
            continue
        ng = normalize(g)
        if ng and (pred == ng or ng in pred):
            return True
    return False

"""BAGEL's published understanding protocol (``eval/vlm`` of ByteDance-Seed/Bagel @056b5fd).

Our own implementation of the official prompts, answer extraction and scoring rules, quirks
included, so that numbers under the ``official`` profile match what BAGEL's scripts compute.
Every rule names the official file and line it follows (paths under ``eval/vlm/eval/``);
``tests/tasks/understanding/test_understanding_official.py`` checks each one against the
official function itself on generated answers.

MME (``mme/eval.py``, ``mme/calculation.py``):
    prompt = question + " Answer the question using a single word or phrase." (eval.py:43,52);
    the response loses newlines, 不是/是/否 become No/Yes/No, it is lower-cased, true/false
    become yes/no, remaining CJK characters are removed (eval.py:21-26); it is written to a
    tab-separated results file (eval.py:70) that calculation.py reads back: a response with a
    tab makes that line unreadable and the line is skipped (calculation.py:198-202), so the
    answer counts in neither acc nor acc+ (its image cannot reach acc+); then yes/no when the
    response *is* yes/no, else "yes" / "no" among its first four characters, else "other"
    (calculation.py:110-124).
MMBench (``mmbench/evaluate_mmbench.py``):
    prompt = [hint "\\n"] question, then "\\nA. text" per option A-E present in the row, then
    "\\n" + "Answer with the option's letter from the given choices directly." (English) or
    "请直接回答选项字母。" (Chinese sets) (lines 103-118, 279-282); a cell counts as absent when
    pandas reads it as NaN (line 132, pandas' default NA strings). Extraction ``post_process``
    (lines 164-178): strip; one character -> itself; empty -> "C"; first character an option
    letter -> that letter ("Answer: B" -> "A"); else the first option whose text occurs in the
    response; else the stripped response. BAGEL then uploads the predictions to the
    MMBench server; hbench scores a prediction right when it equals the answer letter (the
    server's own matching of non-letter predictions is not reproduced: they count wrong).
MMMU (``mmmu/evaluate_mmmu.py``, ``mmmu/eval_utils.py``):
    prompt = question.strip(), then "\\nA. option" lines (options stripped), then "\\n" + the
    multiple-choice or open instruction, the whole stripped (evaluate_mmmu.py:77-101, 162-165);
    ``image_1`` is upscaled 2x with bilinear resampling (lines 92-96). Multiple choice: the
    same ``post_process`` with letters A-M (lines 144-158; the raw response when a question has
    no options, line 194), right when equal to the answer (eval_utils.py:194-208). Open:
    ``parse_open_response`` (eval_utils.py:138-189) then ``eval_open`` (lines 211-236): numbers
    rounded to 2 decimals must be equal, strings must be contained.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from PIL import Image

MME_INSTRUCTION = "Answer the question using a single word or phrase."
MMBENCH_INSTRUCTION = {
    "en": "Answer with the option's letter from the given choices directly.",
    "cn": "请直接回答选项字母。",
}
MMBENCH_LETTERS = ("A", "B", "C", "D", "E")  # evaluate_mmbench.py:103
MMMU_LETTERS = tuple("ABCDEFGHIJKLM")  # evaluate_mmmu.py:86
MMMU_INSTRUCTION = {
    "multiple-choice": "Answer with the option's letter from the given choices directly.",
    "open": "Answer the question using a single word or phrase.",
}
# pandas' default NA strings: a TSV cell with one of these is NaN for the official reader.
PANDAS_NA = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})  # fmt: skip
_CJK = re.compile(r"[\u4e00-\u9fa5]")


# ---------------------------------------------------------------------------------- MME
def mme_prompt(question: str) -> str:
    """MME question with BAGEL's instruction (eval.py:43,52)."""
    return f"{question} {MME_INSTRUCTION}"


def mme_clean(response: str) -> str:
    """The response as BAGEL writes it to the results file (eval.py:21-26)."""
    out = response.replace("\n", "")
    for cjk, en in (("不是", "No"), ("是", "Yes"), ("否", "No")):  # order matters: 不是 first
        out = out.replace(cjk, en)
    out = out.lower().replace("true", "yes").replace("false", "no")
    return _CJK.sub("", out)


def mme_label(cleaned: str) -> str:
    """``yes`` / ``no`` / ``other`` from a cleaned response (calculation.py:110-124)."""
    if cleaned in ("yes", "no"):
        return cleaned
    head = cleaned[:4]
    if "yes" in head:
        return "yes"
    return "no" if "no" in head else "other"


def mme_answer(response: str) -> tuple[str | None, str]:
    """``(label, reason)``; label None when the official results file loses the answer.

    A tab splits the results line into more than four fields (calculation.py:198-202); a
    carriage return ends the line early when the file is read back, which shifts the
    official two-lines-per-image pairing of the whole task: both drop the answer here.
    """
    cleaned = mme_clean(response)
    if "\t" in cleaned:
        return None, "response holds a tab: the official results line does not parse (skipped)"
    if "\r" in cleaned:
        return None, "response holds a carriage return: the official results file splits it"
    # The file line keeps its "\n" (readlines) and is lower-cased again (calculation.py:204);
    # neither changes the label of a tab-free, already lower-case response.
    label = mme_label(cleaned.lower())
    return label, "" if label != "other" else "no yes/no in the first 4 characters"


# ------------------------------------------------------------------------------ MMBench
def is_present(cell: Any) -> bool:
    """Whether pandas' default TSV reader sees a value (not NaN) in ``cell``."""
    if cell is None:
        return False
    if isinstance(cell, float) and cell != cell:
        return False
    return str(cell) not in PANDAS_NA


def mmbench_options(cells: dict[str, Any]) -> dict[str, str]:
    """Options A-E present in a TSV row, in letter order (evaluate_mmbench.py:103-108)."""
    return {k: str(cells[k]) for k in MMBENCH_LETTERS if is_present(cells.get(k))}


def mmbench_prompt(question: str, hint: Any, options: dict[str, str], language: str) -> str:
    """MMBench prompt (evaluate_mmbench.py:110-118)."""
    text = f"{hint}\n{question}" if is_present(hint) else question
    text += "".join(f"\n{k}. {v}" for k, v in options.items())
    return f"{text}\n{MMBENCH_INSTRUCTION[language]}"


def post_process(response: str, options: dict[str, str]) -> str:
    """BAGEL's choice extraction (evaluate_mmbench.py:164-178, evaluate_mmmu.py:144-158).

    >>> post_process("Answer: B", {"A": "cat", "B": "dog"})
    'A'
    >>> post_process("", {"A": "cat", "B": "dog"})
    'C'
    >>> post_process("it is a dog", {"A": "cat", "B": "dog"})
    'B'
    """
    pred = response.strip()
    if len(pred) == 1:
        return pred
    if not pred:
        return "C"  # the official fallback for an empty answer
    if pred[0] in options:
        return pred[0]
    for letter, text in options.items():  # first option whose text occurs anywhere
        if text in pred:
            return letter
    return pred


# --------------------------------------------------------------------------------- MMMU
def mmmu_prompt(question: str, options: Iterable[str], question_type: str) -> str:
    """MMMU prompt (evaluate_mmmu.py:77-101): options as ``A. text`` lines."""
    lines = [f"{MMMU_LETTERS[i]}. {o.strip()}" for i, o in enumerate(options)]
    text = question.strip()
    if lines:
        text += "\n" + "\n".join(lines)
    return (text + "\n" + MMMU_INSTRUCTION[question_type]).strip()


def mmmu_options(options: Iterable[str]) -> dict[str, str]:
    """Letter -> stripped option text, as the official extraction sees them (line 89)."""
    return {MMMU_LETTERS[i]: o.strip() for i, o in enumerate(options)}


def mmmu_images(images: list[Image.Image | None]) -> list[Image.Image]:
    """Slot images 1..7 as BAGEL feeds them: absent slots dropped, ``image_1`` upscaled 2x."""
    out = []
    for slot, image in enumerate(images):
        if image is None:
            continue
        if slot == 0:
            image = image.resize((image.width * 2, image.height * 2), Image.BILINEAR)
        out.append(image)
    return out


def multi_choice_correct(gold: str | list[str], pred: str) -> bool:
    """Exact match with the gold letter or any of a list (eval_utils.py:194-208)."""
    return pred in gold if isinstance(gold, list) else pred == gold


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize_answer(text: str) -> list[str | float]:
    """Number -> [rounded float]; string -> lower-case, padded when one character
    (eval_utils.py:90-112)."""
    text = text.strip()
    if _is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


_NUM_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_NUM_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_NUM_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")


def numbers_in(text: str) -> list[str]:
    """Numbers with thousands commas, then scientific, then plain (eval_utils.py:115-135)."""
    return [m for pattern in (_NUM_COMMAS, _NUM_SCIENTIFIC, _NUM_SIMPLE)
            for m in pattern.findall(text)]  # fmt: skip


_KEY_MARKERS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}


def _key_parts(response: str) -> list[str]:
    """The tails of a response that may hold the answer (eval_utils.py:145-172).

    The official split on ``". " + capital letter`` runs after lower-casing, so it never
    fires: only newlines split. ``=`` is a marker on the last line only. The shortest tail
    wins, except that an empty first tail is replaced by the next marker's tail.
    """
    response = response.strip().strip(".").lower()
    parts = re.split(r"\.\s(?=[A-Z])|\n", response)
    found = []
    for i, part in enumerate(parts):
        markers = _KEY_MARKERS + (("=",) if i == len(parts) - 1 else ())
        best: str | None = None
        for marker in markers:
            if marker in part:
                tail = part.split(marker)[-1].strip()
                if not best or len(tail) < len(best):
                    best = tail
        if best and best.strip() not in _TRIVIAL:
            found.append(best)
    return found or [response]


def parse_open(response: str) -> list[str | float]:
    """Candidate answers of an open response, normalised (eval_utils.py:138-189)."""
    parts = _key_parts(response)
    candidates = parts + [n for p in parts for n in numbers_in(p)]
    return list({v for c in candidates for v in normalize_answer(c)})


def open_correct(gold: str | list[str], candidates: list[str | float]) -> bool:
    """Any float candidate equal to a gold number, or any gold string inside a string
    candidate (eval_utils.py:211-236)."""
    golds = gold if isinstance(gold, list) else [gold]
    norm = [v for g in golds for v in normalize_answer(g)]
    for cand in candidates:
        if isinstance(cand, str):
            if any(isinstance(g, str) and g in cand for g in norm):
                return True
        elif cand in norm:
            return True
    return False

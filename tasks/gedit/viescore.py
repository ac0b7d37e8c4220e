"""VIEScore prompts for text-guided image editing ("tie") and a strict score parser.

The prompt texts reproduce, character for character, the zero-shot VIEScore prompts that
GEdit-Bench's ``test_gedit_score.py`` sends (``viescore/vie_prompts.py`` in
stepfun-ai/Step1X-Edit, after TIGER-AI-Lab/VIEScore): they are protocol text, like
GenEval's prompt templates, so a local judge sees exactly what the official judges see.

* semantic consistency (SC): context + two-image edit rule + SC rule, with
  ``<instruction>`` replaced; images ``[source, edited]``; scores
  ``[editing success, over-editing]``; SC = min.
* perceptual quality (PQ): context + PQ rule; image ``[edited]``; scores
  ``[naturalness, artifacts]``; PQ = min.

The parser accepts the answer shapes the official parser accepts (a JSON object between
``||V^=^V||`` delimiters, a bare JSON object, a bare ``[a, b]`` list) plus a single
``"score": [..]`` fragment inside broken JSON, but never guesses: anything else raises
:class:`ScoreParseError` (the official code falls back to a random score instead).
"""

from __future__ import annotations

import json
import math
import re

CONTEXT = (
    "You are a professional digital artist. You will have to evaluate the effectiveness of the"
    " AI-generated image(s) based on given rules.\n"
    "All the input images are AI-generated. All human in the images are AI-generated too. so you"
    " need not worry about the privacy confidentials.\n"
    "\n"
    "You will have to give your output in this way (Keep your reasoning concise and short.):\n"
    "{\n"
    '"score" : [...],\n'
    '"reasoning" : "..."\n'
    "}"
)
TWO_IMAGE_EDIT_RULE = (
    "RULES:\n"
    "\n"
    "Two images will be provided: The first being the original AI-generated image and the second"
    " being an edited version of the first.\n"
    "The objective is to evaluate how successfully the editing instruction has been executed in"
    " the second image.\n"
    "\n"
    "Note that sometimes the two images might look identical due to the failure of image edit.\n"
)
TIE_RULE_SC = (
    "\n"
    "From scale 0 to 10: \n"
    "A score from 0 to 10 will be given based on the success of the editing. (0 indicates that"
    " the scene in the edited image does not follow the editing instruction at all. 10 indicates"
    " that the scene in the edited image follow the editing instruction text perfectly.)\n"
    "A second score from 0 to 10 will rate the degree of overediting in the second image. (0"
    " indicates that the scene in the edited image is completely different from the original. 10"
    " indicates that the edited image can be recognized as a minimal edited yet effective version"
    " of original.)\n"
    "Put the score in a list such that output score = [score1, score2], where 'score1' evaluates"
    " the editing success and 'score2' evaluates the degree of overediting.\n"
    "\n"
    "Editing instruction: <instruction>\n"
)
RULE_PQ = (
    "RULES:\n"
    "\n"
    "The image is an AI-generated image.\n"
    "The objective is to evaluate how successfully the image has been generated.\n"
    "\n"
    "From scale 0 to 10: \n"
    "A score from 0 to 10 will be given based on image naturalness. \n"
    "(\n"
    "    0 indicates that the scene in the image does not look natural at all or give a unnatural"
    " feeling such as wrong sense of distance, or wrong shadow, or wrong lighting. \n"
    "    10 indicates that the image looks natural.\n"
    ")\n"
    "A second score from 0 to 10 will rate the image artifacts. \n"
    "(\n"
    "    0 indicates that the image contains a large portion of distortion, or watermark, or"
    " scratches, or blurred faces, or unusual body parts, or subjects not harmonized. \n"
    "    10 indicates the image has no artifacts.\n"
    ")\n"
    "Put the score in a list such that output score = [naturalness, artifacts]\n"
)
SC_TEMPLATE = "\n".join([CONTEXT, TWO_IMAGE_EDIT_RULE, TIE_RULE_SC])
PQ_PROMPT = "\n".join([CONTEXT, RULE_PQ])
DELIMITER = "||V^=^V||"
SCORE_RANGE = (0.0, 10.0)


def sc_prompt(instruction: str) -> str:
    """The semantic-consistency prompt for one editing instruction."""
    return SC_TEMPLATE.replace("<instruction>", instruction)


class ScoreParseError(ValueError):
    """A judge answer that holds no valid list of scores."""


_SCORE_FRAGMENT = re.compile(r'"?score"?\s*"?\s*:\s*(\[[^\[\]]*\])', re.IGNORECASE)
_BARE_LIST = re.compile(r"^\s*(\[[^\[\]]*\])\s*$")


def _json_object(text: str) -> dict | None:
    if text.count(DELIMITER) == 2:
        start = text.find(DELIMITER) + len(DELIMITER)
        candidate = text[start : text.rfind(DELIMITER)]
    else:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end < start:
            return None
        candidate = text[start : end + 1]
    try:
        obj = json.loads(candidate.replace("\n", " ").strip())
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _score_list(text: str) -> list:
    obj = _json_object(text)
    if obj is not None and "score" in obj:
        value = obj["score"]
        return value if isinstance(value, list) else [value]
    fragments = _SCORE_FRAGMENT.findall(text)
    if len(fragments) > 1:  # e.g. a repeated or self-correcting answer: ambiguous
        raise ScoreParseError(f"{len(fragments)} score lists in judge answer {text[:200]!r}")
    match = _SCORE_FRAGMENT.search(text) or _BARE_LIST.match(text)
    if match is None:
        raise ScoreParseError(f"no score list found in judge answer {text[:200]!r}")
    try:
        value = json.loads(match.group(1))
    except json.JSONDecodeError as err:
        raise ScoreParseError(f"malformed score list {match.group(1)!r}") from err
    return value


def parse_scores(text: str, expected: int = 2) -> list[float]:
    """Scores from a judge answer: exactly ``expected`` numbers in [0, 10].

    >>> parse_scores('{"score": [7, 3], "reasoning": "ok"}')
    [7.0, 3.0]
    >>> parse_scores('scores follow ||V^=^V||{"score" : [10, 9]}||V^=^V||')
    [10.0, 9.0]
    >>> parse_scores("[6, 0]")
    [6.0, 0.0]

    Raises:
        ScoreParseError: no score list, a wrong count, a non-number or a value out of range.
    """
    values = _score_list(text)
    if len(values) != expected:
        raise ScoreParseError(f"expected {expected} scores, got {len(values)}: {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ScoreParseError(f"score {v!r} is not a number")
        if not SCORE_RANGE[0] <= v <= SCORE_RANGE[1]:
            raise ScoreParseError(f"score {v!r} is outside 0-10")
        out.append(float(v))
    return out

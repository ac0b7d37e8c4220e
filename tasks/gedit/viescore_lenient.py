"""VIEScore's own lenient answer parsing, for the ``official`` GEdit profile.

Our implementation of ``mllm_output_to_dict`` (Bagel@056b5fd
``eval/gen/gedit/viescore/utils.py:154-235``, as in Step1X-Edit's GEdit-Bench) and the
question loop of ``VIEScore.evaluate`` (``viescore/__init__.py:57-80``):

* two ``||V^=^V||`` delimiters: the JSON between them; else the outermost ``{...}``; else, on
  a *give-up* round, a random integer score 0-10; else a bare ``[a, b]`` list of integers, or
  a bare integer 0-10; else unparsed;
* the JSON is parsed with newlines removed; a ``score`` that is not a list becomes one; JSON
  that does not parse is repaired by VIEScore's ``fix_json`` (quote the keys, bracket bare
  numbers) and returned as is;
* SC and PQ are the minimum of *whatever* scores came back (no count or range check);
* both questions are asked again while either is unparsed; from the second round on an
  unparsed answer gets the random score.

Differences, documented: the official loop has no bound (hbench stops after the judge's
``max_attempts`` rounds with a judge error); a parsed answer whose scores cannot be
minimised (no ``score`` key, an empty list, text) makes the official script restart the whole
sample, here it counts as unparsed for that round; the random score comes from a generator
seeded per sample (the official one is the unseeded global ``random``), and every guessed
score is marked in the record.
"""

from __future__ import annotations

import json
import re
from typing import Any

DELIMITER = "||V^=^V||"
_BARE_PAIR = re.compile(r"^\[\d+, ?\d+\]$")


def _fix_json(text: str) -> str:
    """VIEScore's repair of almost-JSON (utils.py:8-31)."""
    fixed = re.sub(r"(\w+):", r'"\1":', text)

    def value(match: re.Match) -> str:
        key, val, end = match.groups()
        val = val.strip()
        if re.match(r"^-?\d+(\.\d+)?$", val):
            val = f"[{val}]"
        elif not re.match(r"^(true|false|null)$", val, re.IGNORECASE):
            val = f'"{val}"'
        return f"{key}: {val}{end}"

    return re.sub(r'(".*?"):(.*?)(,|})', value, fixed)


def _small_int(text: str) -> bool:
    try:
        return 0 <= int(text) <= 10
    except ValueError:
        return False


def parse_lenient(text: str, give_up: bool, rng: Any) -> dict[str, Any] | None:
    """What VIEScore's parser returns for ``text``: a dict (usually with ``score``) or None
    where it returns False. ``rng.randint(0, 10)`` draws the give-up guess."""
    if text.count(DELIMITER) == 2:
        start = text.find(DELIMITER) + len(DELIMITER)
        end = text.rfind(DELIMITER)
    else:
        start, end = text.find("{"), text.rfind("}") + 1
        if start == -1 or end == 0:
            start, end = text.find("["), text.rfind("]") + 1
            if give_up:
                guess = rng.randint(0, 10)
                return {"score": [guess], "reasoning": f"guess_if_cannot_parse | {text}"}
            if _BARE_PAIR.match(text[start:end]):
                return {"score": json.loads(text[start:end]), "reasoning": "list of scores"}
            if _small_int(text):
                return {"score": [int(text)], "reasoning": "a number"}
            return None
    if start == -1 or end == -1 or start == end:
        return None
    body = text[start:end].strip().replace("\n", "")
    try:
        data = json.loads(body)
        if not isinstance(data["score"], list):
            data["score"] = [data["score"]]
    except Exception:  # noqa: BLE001 - the official parser falls back on any failure
        try:
            return json.loads(_fix_json(body))
        except Exception:  # noqa: BLE001 - as above: unparsed
            return None
    return data


def usable_scores(parsed: dict[str, Any] | None) -> list[float] | None:
    """The score list when ``min`` of it works as in ``VIEScore.evaluate`` (numbers, non-empty)."""
    if not isinstance(parsed, dict):
        return None
    scores = parsed.get("score")
    if not isinstance(scores, list) or not scores:
        return None
    if not all(isinstance(s, int | float) for s in scores):
        return None
    return [float(s) for s in scores]

"""Protocol profiles of the understanding suite: ``official`` (BAGEL's eval/vlm) and ``strict``.

A profile decides the prompt, the images as fed to the model, the answer extraction and
whether MMBench runs as CircularEval. ``strict`` is hbench's own cleaner rule set
(:mod:`.extraction`: a standalone letter or unique option text, never a guess; prompts in
VLMEvalKit / MMMU style); ``official`` reproduces BAGEL's published protocol, quirks and
all (:mod:`.official` names the file and line of every rule). Profiles live in
:data:`PROTOCOLS`; the suite looks its configured one up there.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from hbench.harness.protocol import OFFICIAL, STRICT, ProtocolCard
from hbench.harness.registry import Registry
from hbench.worlds.shapes import final_answer

from . import official as off
from .extraction import extract_option, extract_yes_no, normalize, open_answer_correct
from .loaders import Sample


@dataclass(frozen=True)
class Verdict:
    """One scored answer. ``counted`` is False when the protocol drops the answer from its
    accuracy (BAGEL's MME results file loses a response that holds a tab)."""

    correct: bool
    extracted: str
    reason: str = ""
    counted: bool = True


@dataclass(frozen=True)
class UnderstandingProtocol:
    """How one profile prompts, prepares images and scores answers."""

    name: str
    summary: str
    prompt: Callable[[Sample], str]
    images: Callable[[Sample, list[Image.Image]], list[Image.Image]]
    score: Callable[[Sample, str], Verdict]
    circular: bool  # MMBench: ask every rotation of the options; headline = CircularEval
    follows: tuple[str, ...] = ()


# ------------------------------------------------------------------------------ strict
def strict_prompt(s: Sample) -> str:
    """VLMEvalKit's MMBench layout, MMMU's ``(A) option`` template, the question as is."""
    if s.kind == "choice" and s.options:
        if s.style == "mmbench":
            opts = "".join(f"{k}. {v}\n" for k, v in s.options.items())
            head = f"Hint: {s.hint}\n" if s.hint else ""
            return f"{head}Question: {s.question}\nOptions:\n{opts}Please select the correct answer from the options above."
        opts = "".join(f"({k}) {v}\n" for k, v in s.options.items())
        return (
            f"{s.question}\n{opts}Answer with the option's letter from the given choices directly."
        )
    if s.kind == "open":
        return f"{s.question}\nAnswer the question using a single word or phrase."
    return s.question


def strict_score(s: Sample, text: str) -> Verdict:
    """hbench's rules (:mod:`.extraction`)."""
    if s.kind == "yes_no":
        pred = extract_yes_no(text)
        reason = "" if pred != "other" else "no yes/no in the first 4 characters"
        return Verdict(pred == str(s.answer).strip().lower(), pred, reason)
    if s.kind == "choice":
        pred = extract_option(text, s.options)
        reason = "" if pred else "no option letter or unique option text"
        return Verdict(pred == str(s.answer).strip(), pred or "", reason)
    if s.kind == "open":
        return Verdict(open_answer_correct(text, s.answer), text.strip())
    if s.kind == "vqa":  # shapes VQA: the response's last word (it may describe first)
        pred = final_answer(normalize(text))
        return Verdict(pred == normalize(str(s.answer)), pred)
    pred = normalize(text)  # shapes caption: exact after normalising spaces and case
    return Verdict(pred == normalize(str(s.answer)), pred)


def _as_is(s: Sample, images: list[Image.Image]) -> list[Image.Image]:
    return images


# ---------------------------------------------------------------------------- official
def _mmmu_option_list(s: Sample) -> list[str]:
    return list(s.raw.get("options", s.options.values()))


def official_prompt(s: Sample) -> str:
    """BAGEL's eval/vlm prompts (MME, MMBench, MMMU); other benchmarks: the question."""
    if s.style == "mmbench":
        opts = off.mmbench_options(s.raw) if s.raw else s.options
        hint = s.raw.get("hint") if s.raw else (s.hint or None)
        return off.mmbench_prompt(s.question, hint, opts, s.raw.get("language", "en"))
    if s.style == "mmmu":
        qtype = "multiple-choice" if s.kind == "choice" else "open"
        return off.mmmu_prompt(s.question, _mmmu_option_list(s), qtype)
    if s.kind == "yes_no":
        return off.mme_prompt(s.question)
    return strict_prompt(s)


def official_images(s: Sample, images: list[Image.Image]) -> list[Image.Image]:
    """MMMU: images in their ``image_N`` slots, ``image_1`` upscaled 2x; others as given."""
    if s.style != "mmmu":
        return images
    slots: list[Image.Image | None] = [None] * 7
    names = s.raw.get("image_slots") or [f"image_{i + 1}" for i in range(len(images))]
    for name, image in zip(names, images, strict=True):
        slots[int(name.split("_")[1]) - 1] = image
    return off.mmmu_images(slots)


def _gold(answer: Any) -> str | list[str]:
    if isinstance(answer, list):
        return [str(a) for a in answer]
    if isinstance(answer, str) and answer.startswith("["):
        try:
            return [str(a) for a in ast.literal_eval(answer)]
        except (ValueError, SyntaxError):
            return answer
    return str(answer)


def official_score(s: Sample, text: str) -> Verdict:
    """BAGEL's extraction and scoring per benchmark (see :mod:`.official`)."""
    if s.kind == "yes_no":
        label, reason = off.mme_answer(text)
        if label is None:
            return Verdict(False, "", reason, counted=False)
        return Verdict(label == str(s.answer).strip().lower(), label, reason)
    if s.style == "mmbench":
        opts = off.mmbench_options(s.raw) if s.raw else s.options
        pred = off.post_process(text, opts)
        return Verdict(pred == str(s.answer).strip(), pred, "" if pred in opts else "not a letter")
    if s.style == "mmmu" and s.kind == "choice":
        options = _mmmu_option_list(s)
        pred = off.post_process(text, off.mmmu_options(options)) if options else text
        return Verdict(off.multi_choice_correct(_gold(s.answer), pred), pred)
    if s.style == "mmmu":
        candidates = off.parse_open(text)
        shown = sorted(str(c) for c in candidates)
        return Verdict(off.open_correct(_gold(s.answer), candidates), "; ".join(shown))
    return strict_score(s, text)


PROTOCOLS: Registry[UnderstandingProtocol] = Registry("understanding protocol")
PROTOCOLS.add(
    STRICT,
    UnderstandingProtocol(
        STRICT,
        "hbench's rules: standalone letter or unique option text (never guessed), "
        "VLMEvalKit-style MMBench prompt, MMMU (A) options, 1e-2 relative numeric tolerance",
        strict_prompt,
        _as_is,
        strict_score,
        circular=False,
    ),
    "hbench's cleaner prompts and extraction",
)
PROTOCOLS.add(
    OFFICIAL,
    UnderstandingProtocol(
        OFFICIAL,
        "BAGEL eval/vlm (Bagel@056b5fd): its prompts, post-processing and scoring; MMBench "
        "as CircularEval",
        official_prompt,
        official_images,
        official_score,
        circular=True,
        follows=(
            "eval/vlm/eval/mme/eval.py:21-26,43,52,70",
            "eval/vlm/eval/mme/calculation.py:110-124,184-234",
            "eval/vlm/eval/mmbench/evaluate_mmbench.py:103-118,132,164-178,279-282",
            "eval/vlm/eval/mmmu/evaluate_mmmu.py:77-101,144-158,162-165,194",
            "eval/vlm/eval/mmmu/eval_utils.py:78-236",
            "MMBench CircularEval (arXiv 2307.06281, sec. 3.1): right only if right in every rotation",
        ),
    ),
    "BAGEL's published protocol (eval/vlm), quirks included; MMBench CircularEval",
)


def get_protocol(name: str) -> UnderstandingProtocol:
    """The registered profile ``name`` (did-you-mean error when unknown)."""
    return PROTOCOLS.get(name)


# --------------------------------------------------------------------------- circular
CIRCULAR_STRIDE = 1_000_000  # MMBench TSVs: copy k of question i has index i + k * 1e6


def rotations(s: Sample) -> list[Sample]:
    """The circular copies of an MMBench question: copy k shifts the options by k
    (new option j = old option (j + k) mod n), with ids laid out as the official TSV's."""
    opts = off.mmbench_options(s.raw) if s.raw else dict(s.options)
    letters = list(opts)
    n = len(letters)
    if n < 2 or s.answer not in opts:
        return [s]
    texts = [opts[k] for k in letters]
    base = int(float(s.id)) if s.id.lstrip("-").replace(".", "", 1).isdigit() else None
    answer = letters.index(str(s.answer))
    out = []
    for k in range(n):
        shifted = {letters[j]: texts[(j + k) % n] for j in range(n)}
        raw = {**s.raw, **{key: None for key in off.MMBENCH_LETTERS}, **shifted}
        sid = str(base + k * CIRCULAR_STRIDE) if base is not None else f"{s.id}/c{k}"
        out.append(
            replace(s, id=sid, options=shifted, answer=letters[(answer - k) % n], raw=raw,
                    where=f"{s.where} (rotation {k})" if k else s.where)
        )  # fmt: skip
    return out


def circular_rows(rows: list[Sample]) -> list[Sample]:
    """Rows for CircularEval: a question whose group (index mod 1e6) already has several
    rows keeps the TSV's copies; a question with one row is asked in every rotation."""
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r.group] = sizes.get(r.group, 0) + 1
    out: list[Sample] = []
    for r in rows:
        out += rotations(r) if sizes[r.group] == 1 and not r.error else [r]
    return out


def protocol_card(
    protocol: UnderstandingProtocol, benchmark: str, subset: int | None, tokens_default: bool
) -> ProtocolCard:
    """Whether this suite's numbers can be set beside the published ones, and why."""
    name = protocol.name
    headline = "circular_accuracy" if protocol.circular and benchmark == "mmbench" else None
    if name != OFFICIAL:
        why = "strict profile: hbench's own prompts and extraction, not the published protocol"
        return ProtocolCard(name, False, why, protocol.follows)
    if benchmark.startswith("shapes"):
        return ProtocolCard(name, False, "shapes world: no published figure", protocol.follows)
    if subset is not None:
        why = f"a subset ({subset} rows); the published figure uses the whole set"
        return ProtocolCard(name, False, why, protocol.follows, headline)
    if not tokens_default:
        why = "max_new_tokens differs from BAGEL's per-benchmark value"
        return ProtocolCard(name, False, why, protocol.follows, headline)
    why = {
        "mme": "BAGEL's eval/vlm MME prompt, post-processing and calculation (perception, "
        "cognition)",
        "mmbench": "CircularEval over the options' rotations with BAGEL's prompt and extraction; "
        "BAGEL's figure is the MMBench server's CircularEval on the same split",
        "mmmu": "not the reported setting: BAGEL reports MMMU with chain of thought and a "
        "GPT-4o judge for open answers (EVAL.md:26, about 2 points higher); this is "
        "eval/vlm/eval/mmmu/evaluate_mmmu.py's direct answers",
    }[benchmark]
    return ProtocolCard(name, benchmark != "mmmu", why, protocol.follows, headline)

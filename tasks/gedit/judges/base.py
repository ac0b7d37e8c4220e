"""The judge contract and the VIEScore questioning loop shared by chat judges.

A judge turns (source image, edited image, instruction) into VIEScore's two score lists:
SC scores ``[editing success, over-editing]`` and PQ scores ``[naturalness, artifacts]``.
SC = min, PQ = min, O = sqrt(SC * PQ), as in GEdit-Bench.

A chat judge asks each of the two VIEScore questions until its answer parses, at most
``max_attempts`` times; every raw answer is kept. When one question never parses (or the
transport keeps failing) the judge raises :class:`JudgeError`, which the suite records as a
per-sample judge error: a failed judgement is never a zero.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from ..viescore import PQ_PROMPT, ScoreParseError, parse_scores, sc_prompt
from ..viescore_lenient import parse_lenient, usable_scores

RAW_KEEP = 2000
# Judge-answer parsing policies of chat judges (option ``parsing``) -> ChatJudge method.
PARSING_POLICIES = {
    "strict": "judge_strict",
    "viescore": "judge_viescore",
}  # characters of each raw judge answer kept in the record


@dataclass(frozen=True)
class JudgeInput:
    """One edited sample; ``reference`` is world data an exact judge needs (shapes edit)."""

    source: Image.Image
    edited: Image.Image
    instruction: str
    reference: dict[str, Any] | None = None


@dataclass
class JudgeScores:
    """VIEScore score lists of one sample, with the judge's raw answers and reasons."""

    sc_scores: list[float]
    pq_scores: list[float]
    attempts: dict[str, int] = field(default_factory=dict)
    raw: dict[str, list[str]] = field(default_factory=dict)
    reason: str = ""

    @property
    def sc(self) -> float:
        return min(self.sc_scores)

    @property
    def pq(self) -> float:
        return min(self.pq_scores)

    @property
    def overall(self) -> float:
        return math.sqrt(self.sc * self.pq)


class JudgeError(RuntimeError):
    """No valid judgement for a sample after the allowed attempts."""

    def __init__(self, message: str, attempts: int = 0, raw: list[str] | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.raw = raw or []

    def to_record(self) -> dict[str, Any]:
        """JSON-able form for a run record's details."""
        return {"message": str(self), "attempts": self.attempts,
                "raw": [r[:RAW_KEEP] for r in self.raw]}  # fmt: skip


class Judge(ABC):
    """Base class of judges. ``__init__`` does no I/O; models load in :meth:`load`."""

    name: ClassVar[str]
    Options: ClassVar[type]  # frozen dataclass of the judge's options

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def from_config(cls, options: dict[str, Any] | None = None) -> Judge:
        """Build from a plain dict, rejecting unknown keys with the list of known ones."""
        options = dict(options or {})
        known = {f.name for f in dataclasses.fields(cls.Options)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(
                f"judge {cls.name!r}: unknown option(s) {', '.join(unknown)}; "
                f"known options: {', '.join(sorted(known))}"
            )
        return cls(cls.Options(**options))

    def load(self) -> None:  # noqa: B027 - optional hook, most judges have nothing to load
        """Load models or open connections (called once before the first judgement)."""

    @abstractmethod
    def judge(self, sample: JudgeInput) -> JudgeScores:
        """Score one sample; raises :class:`JudgeError` when no valid judgement is had."""

    def describe(self) -> dict[str, Any]:
        """JSON-able settings for the run manifest and records."""
        return {"judge": self.name, **dataclasses.asdict(self.options)}

    def identity(self) -> dict[str, Any]:
        """Who judged the last sample: judge, model and version, decoding (per record)."""
        return self.describe()


class ChatJudge(Judge):
    """VIEScore through a chat model: subclasses implement :meth:`chat`."""

    def max_attempts(self) -> int:
        return int(getattr(self.options, "max_attempts", 3))

    @abstractmethod
    def chat(self, images: list[Image.Image], text: str, attempt: int) -> str:
        """One chat turn: ``images`` then ``text`` from the user; returns the answer text.

        ``attempt`` counts from 0; a judge may sample on later attempts so a retry can
        give a different answer. Transport failures raise ``OSError``.
        """

    def ask(
        self, images: list[Image.Image], text: str, what: str
    ) -> tuple[list[float], int, list[str]]:
        """Ask until the answer parses; returns (scores, attempts used, raw answers)."""
        raw: list[str] = []
        problems: list[str] = []
        for attempt in range(self.max_attempts()):
            try:
                answer = self.chat(images, text, attempt)
            except OSError as err:  # network / server failure: retried within the same bound
                raw.append(f"<transport error: {err}>")
                problems.append(f"attempt {attempt + 1}: {err}")
                continue
            raw.append(answer)
            try:
                return parse_scores(answer), attempt + 1, raw
            except ScoreParseError as err:
                problems.append(f"attempt {attempt + 1}: {err}")
        raise JudgeError(
            f"{self.name} judge: no valid {what} scores after {len(raw)} attempt(s) "
            f"({'; '.join(problems)})",
            attempts=len(raw),
            raw=raw,
        )

    def judge(self, sample: JudgeInput) -> JudgeScores:
        """VIEScore: SC on ``[source, edited]``, PQ on ``[edited]``, parsed by the judge's
        ``parsing`` policy (``strict``: hbench's; ``viescore``: the official lenient loop)."""
        policy = getattr(self.options, "parsing", "strict")
        if policy not in PARSING_POLICIES:
            raise ValueError(
                f"{self.name} judge: parsing must be one of {', '.join(PARSING_POLICIES)}, "
                f"got {policy!r}"
            )
        return getattr(self, PARSING_POLICIES[policy])(sample)

    def judge_viescore(self, sample: JudgeInput) -> JudgeScores:
        """The official VIEScore loop (:mod:`..viescore_lenient`): both questions per round,
        lenient parsing, a seeded random score for an unparsed answer from round 2 on."""
        import random
        import zlib

        rng = random.Random(zlib.crc32(sample.instruction.encode("utf-8")))
        images = {"sc": [sample.source, sample.edited], "pq": [sample.edited]}
        texts = {"sc": sc_prompt(sample.instruction), "pq": PQ_PROMPT}
        raw: dict[str, list[str]] = {"sc": [], "pq": []}
        for round_ in range(self.max_attempts()):
            got: dict[str, Any] = {}
            for what in ("sc", "pq"):
                try:
                    answer = self.chat(images[what], texts[what], round_)
                except OSError as err:
                    raw[what].append(f"<transport error: {err}>")
                    got[what] = None
                    continue
                raw[what].append(answer)
                got[what] = parse_lenient(answer, give_up=round_ > 0, rng=rng)
            sc, pq = usable_scores(got["sc"]), usable_scores(got["pq"])
            if sc is not None and pq is not None:
                guessed = [w for w in ("sc", "pq") if "guess_if_cannot_parse" in
                           str((got[w] or {}).get("reasoning", ""))]  # fmt: skip
                return JudgeScores(
                    sc, pq, attempts={"sc": round_ + 1, "pq": round_ + 1},
                    raw={k: [r[:RAW_KEEP] for r in v] for k, v in raw.items()},
                    reason=f"VIEScore guessed a random {'/'.join(guessed).upper()} score"
                    if guessed else "",
                )  # fmt: skip
        raise JudgeError(
            f"{self.name} judge: no usable VIEScore answers after {self.max_attempts()} round(s)",
            attempts=self.max_attempts(),
            raw=raw["sc"] + raw["pq"],
        )

    def judge_strict(self, sample: JudgeInput) -> JudgeScores:
        """hbench's rule: each question until exactly two scores in 0-10 parse."""
        sc, sc_n, sc_raw = self.ask(
            [sample.source, sample.edited], sc_prompt(sample.instruction), "SC"
        )
        pq, pq_n, pq_raw = self.ask([sample.edited], PQ_PROMPT, "PQ")
        return JudgeScores(
            sc_scores=sc,
            pq_scores=pq,
            attempts={"sc": sc_n, "pq": pq_n},
            raw={"sc": [r[:RAW_KEEP] for r in sc_raw], "pq": [r[:RAW_KEEP] for r in pq_raw]},
        )


def make_judge(name: str, options: dict[str, Any] | None = None) -> Judge:
    """Look ``name`` up in the JUDGES registry and build it from ``options``."""
    from hbench.harness.plugins import JUDGES

    cls = JUDGES.get(name)
    return cls.from_config(options)

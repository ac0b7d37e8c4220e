"""The understanding suite: samples -> ``system.understand`` -> extracted answer -> scores.

Benchmarks: ``shapes-caption`` and ``shapes-vqa`` (generated from the shapes world, held-out
seeds), ``mme``, ``mmbench`` and ``mmmu`` (read from local files in their public formats,
see :mod:`.loaders`). Prompts, image preprocessing and answer extraction come from the
configured protocol profile (:mod:`.protocols`: ``strict`` or BAGEL's ``official``; under
``official`` MMBench is asked in every rotation and scored by CircularEval). Decoding is greedy with BAGEL's per-benchmark max new tokens unless
``max_new_tokens`` is set. ``compare`` is the lossless check: token-by-token agreement of two
variants per sample and, with ``repeats > 1``, a chi-square test of their output
distributions over repeated seeds (meaningful when the variants sample).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from hbench.harness.protocol import STRICT, ProtocolCard
from hbench.harness.registry import UnknownNameError
from hbench.harness.suite import Artifacts, Item, SampleResult, Suite, sample_seed
from hbench.harness.system import UNDERSTAND, System, TextOutput, require

from .loaders import Sample, decode_image, load_mmbench, load_mme, load_mmmu
from .lossless import distribution_test, lossless_summary
from .protocols import PROTOCOLS, UnderstandingProtocol, circular_rows, protocol_card
from .scoring import circular_accuracy, mme_scores, per_category
from .shapes_tasks import shapes_caption_sample, shapes_vqa_sample

SUITE_NAME = "understanding"
# BAGEL's protocol (DESIGN.md); shapes answers: <= 27 caption words + <eos>; a VQA response
# may describe its scene (<= 35 words: up to four objects) and restate the answer as a
# sentence (<= 12 words) before it ends with the answer word.
DEFAULT_MAX_NEW_TOKENS: dict[str, int] = {
    "mme": 20, "mmbench": 100, "mmmu": 10, "mm-vet": 1000, "mathvista": 4096,
    "shapes-caption": 32, "shapes-vqa": 60,
}  # fmt: skip
FILE_LOADERS = {"mme": load_mme, "mmbench": load_mmbench, "mmmu": load_mmmu}
BENCHMARKS: tuple[str, ...] = ("shapes-caption", "shapes-vqa", *FILE_LOADERS)


@dataclass(frozen=True)
class UnderstandingConfig:
    """Parameters of the understanding suite.

    Attributes:
        benchmark: one of ``BENCHMARKS``.
        path: data file or folder (file benchmarks only).
        samples: how many samples (shapes: generated; files: the first N; None: all rows).
        max_new_tokens: None uses ``DEFAULT_MAX_NEW_TOKENS[benchmark]``.
        repeats: each sample runs this many times with its own seed (sampling-mode check).
        protocol: a profile of :data:`.protocols.PROTOCOLS`: ``strict`` (hbench's rules) or
            ``official`` (BAGEL's eval/vlm prompts, extraction and scoring; MMBench asked in
            every rotation of its options and scored by CircularEval).
    """

    benchmark: str = "shapes-caption"
    path: str | None = None
    samples: int | None = 50
    max_new_tokens: int | None = None
    repeats: int = 1
    protocol: str = STRICT

    def __post_init__(self) -> None:
        try:
            PROTOCOLS.get(self.protocol)
        except UnknownNameError as err:
            raise ValueError(str(err)) from err
        if self.benchmark not in BENCHMARKS:
            raise ValueError(
                f"unknown benchmark {self.benchmark!r}; available: {', '.join(BENCHMARKS)}"
            )
        if self.benchmark in FILE_LOADERS and not self.path:
            raise ValueError(f"benchmark {self.benchmark!r} reads local files: set path")
        if self.benchmark.startswith("shapes") and self.samples is None:
            raise ValueError("shapes benchmarks generate samples: set samples to a number")
        if self.samples is not None and self.samples < 1:
            raise ValueError(f"samples must be >= 1 or null, got {self.samples}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1 or null, got {self.max_new_tokens}")
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}")

    @property
    def new_tokens(self) -> int:
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[self.benchmark]


class UnderstandingSuite(Suite):
    """Understanding benchmarks with answer extraction and the lossless comparison."""

    name: ClassVar[str] = SUITE_NAME
    capability: ClassVar[str] = UNDERSTAND
    Config: ClassVar[type] = UnderstandingConfig
    primary_metric: ClassVar[str] = "correct"
    summarize_errors: ClassVar[bool] = True  # MME acc+ must see the failed questions

    @classmethod
    def required_paths(cls, config: UnderstandingConfig) -> list[Any]:
        """The benchmark file or folder of ``config`` (``hbench run --check``)."""
        from hbench.harness.paths import RequiredPath

        if config.benchmark not in FILE_LOADERS or not config.path:
            return []
        return [RequiredPath("path", config.path, f"{config.benchmark} data")]

    def __init__(self, config: UnderstandingConfig | None = None) -> None:
        super().__init__(config or UnderstandingConfig())
        cfg: UnderstandingConfig = self.config
        # Files are read (and a missing path fails) before any weights load.
        self.protocol: UnderstandingProtocol = PROTOCOLS.get(cfg.protocol)
        self._rows: list[Sample] | None = None
        if cfg.benchmark in FILE_LOADERS:
            rows = FILE_LOADERS[cfg.benchmark](Path(cfg.path))
            rows = rows[: cfg.samples] if cfg.samples else rows
            if self.protocol.circular and cfg.benchmark == "mmbench":
                rows = circular_rows(rows)
            self._rows = rows

    def protocol_card(self) -> ProtocolCard:
        """The profile and whether the numbers compare with BAGEL's published ones."""
        cfg: UnderstandingConfig = self.config
        subset = cfg.samples if cfg.benchmark in FILE_LOADERS else None
        return protocol_card(self.protocol, cfg.benchmark, subset, cfg.max_new_tokens is None)

    def prompt(self, s: Sample) -> str:
        """The text prompt of a sample under the configured profile."""
        return self.protocol.prompt(s)

    def items(self, run_seed: int) -> list[Item]:
        """Samples ``NNNNN`` (``NNNNN/rRR`` with repeats); shapes scenes come from the item seed."""
        cfg: UnderstandingConfig = self.config
        n = len(self._rows) if self._rows is not None else cfg.samples
        out = []
        for i in range(n):
            for r in range(cfg.repeats):
                sid = f"{i:05d}" if cfg.repeats == 1 else f"{i:05d}/r{r:02d}"
                # Repeats share the scene (seeded by the base id) but get their own item seed.
                base_seed = sample_seed(run_seed, self.name, f"{cfg.benchmark}/{i:05d}")
                out.append(
                    Item(
                        sid,
                        sample_seed(run_seed, self.name, f"{cfg.benchmark}/{sid}"),
                        {"index": i, "base_seed": base_seed},
                    )
                )
        return out

    def _sample_only(self, item: Item) -> Sample:
        """The sample without decoding its images (file rows; shapes samples are rendered)."""
        if self._rows is None:
            return self._sample(item)[0]
        s = self._rows[item.data["index"]]
        if s.error:
            raise ValueError(s.error)
        return s

    def _sample(self, item: Item) -> tuple[Sample, list[Image.Image]]:
        """The sample and its decoded images (ValueError naming the file and row on bad input)."""
        cfg: UnderstandingConfig = self.config
        i = item.data["index"]
        if self._rows is None:
            make = shapes_caption_sample if cfg.benchmark == "shapes-caption" else None
            s, arr = (
                make(item.sample, item.data["base_seed"])
                if make
                else shapes_vqa_sample(item.sample, item.data["base_seed"], i)
            )
            return s, [Image.fromarray(arr)]
        s = self._rows[i]
        if s.error:
            raise ValueError(s.error)
        images = [decode_image(ref, s.where) for ref in s.images]
        return s, self.protocol.images(s, images)

    def infer(self, system: System, item: Item) -> Any:
        """One ``understand`` call with the sample's images and prompt."""
        require(system, UNDERSTAND)
        s, images = self._sample(item)
        return system.understand(images, self.prompt(s), self.config.new_tokens)

    def evaluate(self, item: Item, output: Any, artifacts: Artifacts) -> SampleResult:
        """Extract the answer and score it; record text, token ids and decoding speed."""
        if not isinstance(output, TextOutput):
            raise TypeError(f"understand() must return TextOutput, got {type(output).__name__}")
        s = self._sample_only(item)
        verdict = self.protocol.score(s, output.text)
        metrics = {"correct": float(verdict.correct), "new_tokens": float(len(output.token_ids))}
        st = output.stats
        wall = float(st.get("prefill_s", 0.0)) + float(st.get("decode_s", 0.0))
        if wall > 0 and output.token_ids:
            metrics["tokens_per_s"] = len(output.token_ids) / wall
        if st.get("decode_s") and len(output.token_ids) > 1:
            metrics["decode_tokens_per_s"] = (len(output.token_ids) - 1) / float(st["decode_s"])
        if "acceptance_length" in st:
            metrics["acceptance_length"] = float(st["acceptance_length"])
        return SampleResult(
            output={
                "text": output.text,
                "token_ids": list(output.token_ids),
                "prompt": self.prompt(s),
            },
            metrics=metrics,
            details={
                "benchmark": self.config.benchmark,
                "id": s.id,
                "category": s.category,
                "group": s.group or s.id,
                "answer": s.answer if isinstance(s.answer, str | int | float) else str(s.answer),
                "extracted": verdict.extracted,
                "reason": verdict.reason,
                "counted": verdict.counted,
                "where": s.where,
                "accept_per_position": st.get("accept_per_position"),
                # the counts behind the rates, so a report can pool them over samples
                "drafted_per_position": st.get("drafted_per_position"),
                "accepted_per_position": st.get("accepted_per_position"),
            },
        )

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Accuracy (plus MME scores / circular MMBench), per-category accuracy, speed means."""
        ok = [r for r in records if not r.get("error")]
        errors = len(records) - len(ok)
        if not ok:
            return {"n": 0, "errors": errors}
        rows = [
            {
                "category": r["details"]["category"],
                "group": r["details"]["group"],
                "correct": r["metrics"]["correct"],
                "counted": r["details"].get("counted", True),
            }
            for r in ok
        ]
        counted = [r for r in rows if r["counted"]] or rows
        out: dict[str, Any] = {
            "n": len(ok),
            "errors": errors,
            "protocol": self.config.protocol,
            "accuracy": sum(r["correct"] for r in counted) / len(counted),
            "per_category": per_category(counted),
        }
        if len(counted) < len(rows):
            out["skipped_by_protocol"] = len(rows) - len(counted)
        for m in ("tokens_per_s", "decode_tokens_per_s", "acceptance_length", "new_tokens"):
            vals = [r["metrics"][m] for r in ok if m in r["metrics"]]
            if vals:
                out[f"{m}_mean"] = sum(vals) / len(vals)
        if self.config.benchmark == "mme":
            out["mme"] = mme_scores(rows, self._failed_groups(records))
        if self.config.benchmark == "mmbench":
            circ = circular_accuracy(rows)
            if circ:
                out.update(circ)
                if self.protocol.circular:  # CircularEval is the benchmark's headline
                    out["overall"] = circ["circular_accuracy"]
                    out["headline"] = "circular_accuracy"
        return out

    def _failed_groups(self, records: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """``(category, image id)`` of the errored records (their question never answered)."""
        out = []
        for r in records:
            if not r.get("error") or self._rows is None:
                continue
            index = int(str(r["sample"]).split("/")[0])
            if 0 <= index < len(self._rows):
                s = self._rows[index]
                out.append((s.category, s.group or s.id))
        return out

    def compare(
        self, reference: list[dict[str, Any]], other: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Lossless check: per-sample token agreement; with repeats, output-distribution tests."""
        ref = {r["sample"]: r for r in reference if not r.get("error")}
        oth = {r["sample"]: r for r in other if not r.get("error")}
        common = sorted(set(ref) & set(oth))
        out: dict[str, Any] = {
            "lossless": lossless_summary([(k, ref[k]["output"], oth[k]["output"]) for k in common])
        }
        out["lossless"]["unpaired"] = len(set(ref) ^ set(oth))
        if self.config.repeats > 1:
            out["sampling"] = sampling_check(ref, oth, common)
        return out


def sampling_check(ref: dict[str, dict], oth: dict[str, dict], common: list[str]) -> dict[str, Any]:
    """Per-prompt chi-square tests over repeated seeds, combined with Fisher's method."""
    from scipy.stats import combine_pvalues

    groups: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for k in common:
        base = k.split("/r")[0]
        groups[base][0].append(tuple(ref[k]["output"]["token_ids"]))
        groups[base][1].append(tuple(oth[k]["output"]["token_ids"]))
    tests = {g: distribution_test(a, b) for g, (a, b) in sorted(groups.items())}
    ps = [t["p_value"] for t in tests.values() if t["dof"] > 0]
    combined = float(combine_pvalues(ps, method="fisher").pvalue) if ps else 1.0
    return {
        "test": "chi-square homogeneity per prompt, Fisher-combined",
        "p_value": combined,
        "prompts": len(tests),
        "tested_prompts": len(ps),
        "per_prompt": tests,
    }

"""The GenEval suite: prompts -> ``system.generate`` -> official layout -> detector -> official rules.

Sample ids are ``NNNNN/SSSS`` (prompt index / sample index), so every image also lands in
the official folder layout under the run's ``artifacts/geneval/<variant>/layout/``, where the
official ``evaluate_images.py`` can score it. The per-sample metric ``correct`` (0/1) is the
primary metric; ``summarize`` gives the ``summary_scores.py`` numbers plus extras that never
change the score (extra objects per image, agreement of the samples of one prompt).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from hbench.harness import plugins
from hbench.harness.protocol import STRICT, PreflightError, ProtocolCard
from hbench.harness.registry import UnknownNameError
from hbench.harness.suite import Artifacts, Item, SampleResult, Suite, sample_seed
from hbench.harness.system import GENERATE, System, require

from .calibration import AUTO, NONE, SHAPES_RECIPE, check, layout_cases, measure, shapes_cases
from .detectors import load_plugin
from .layout import save_sample
from .metadata import generate_metadata, load_metadata, write_metadata
from .protocols import PROTOCOLS, protocol_card
from .rules import Thresholds, score_image
from .summary import prompt_agreement, summary_scores, write_results

SUITE_NAME = "geneval"
MAX_PROMPTS_PER_TAG = 1000  # GenEval has 553 prompts in all; the generator's space is smaller
MAX_SAMPLES_PER_PROMPT = 1000


@dataclass(frozen=True)
class GenEvalConfig:
    """Parameters of the GenEval suite (the threshold fields carry the official defaults).

    ``prompts``: ``"shapes"`` (generated over the shapes world), ``"coco"`` (generated over
    the classes of ``object_names``), or the path of an official ``evaluation_metadata.jsonl``.
    """

    prompts: str = "shapes"
    object_names: str | None = None
    prompts_per_tag: int = 10
    prompt_seed: int = 0
    limit: int | None = None
    samples_per_prompt: int = 4
    detector: str = "shapes"
    detector_options: dict[str, Any] = field(default_factory=dict)
    color_classifier: str = "shapes"
    color_classifier_options: dict[str, Any] = field(default_factory=dict)
    threshold: float = 0.3
    counting_threshold: float = 0.9
    max_objects: int = 16
    max_overlap: float = 1.0
    position_threshold: float = 0.1
    tie_order: Literal["official", "stable"] = "official"
    write_layout: bool = True
    warmup: int = 1
    protocol: str = STRICT  # official | strict: the standard for comparability (same rules)
    # Detector self-check before scoring: "auto" (the shapes recipe for the shapes detector
    # or shapes prompts, else none), "shapes", "none", or an official-layout folder of images known to satisfy
    # their metadata. Below either bound the run refuses.
    calibration: str = AUTO
    calibration_min_recall: float = 0.9
    calibration_min_color_accuracy: float = 0.9

    def __post_init__(self) -> None:
        if self.samples_per_prompt < 1:
            raise ValueError(f"samples_per_prompt must be >= 1, got {self.samples_per_prompt}")
        if self.prompts_per_tag < 1:
            raise ValueError(f"prompts_per_tag must be >= 1, got {self.prompts_per_tag}")
        # The generator tries 50 draws per wanted prompt and the shapes vocabulary has a few
        # hundred distinct prompts: a huge value would only spin (issue #23).
        if self.prompts_per_tag > MAX_PROMPTS_PER_TAG:
            raise ValueError(
                f"prompts_per_tag must be <= {MAX_PROMPTS_PER_TAG}, got {self.prompts_per_tag}"
            )
        if self.samples_per_prompt > MAX_SAMPLES_PER_PROMPT:
            raise ValueError(
                f"samples_per_prompt must be <= {MAX_SAMPLES_PER_PROMPT}, "
                f"got {self.samples_per_prompt}"
            )
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 or null, got {self.limit}")
        self.thresholds()  # validates the threshold fields
        try:
            PROTOCOLS.get(self.protocol)
        except UnknownNameError as err:
            raise ValueError(str(err)) from err
        for key in ("calibration_min_recall", "calibration_min_color_accuracy"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"{key} must be in [0, 1], got {getattr(self, key)}")

    def thresholds(self) -> Thresholds:
        """The evaluator options as a :class:`Thresholds`."""
        return Thresholds(
            threshold=self.threshold,
            counting_threshold=self.counting_threshold,
            max_objects=self.max_objects,
            max_overlap=self.max_overlap,
            position_threshold=self.position_threshold,
            tie_order=self.tie_order,
        )


def load_prompts(config: GenEvalConfig) -> list[dict[str, Any]]:
    """The prompt records a config names (generated, or read and validated from a file)."""
    if config.prompts in ("shapes", "coco"):
        records = generate_metadata(
            config.prompts, config.prompts_per_tag, config.prompt_seed, config.object_names
        )
    else:
        records = load_metadata(Path(config.prompts))
    return records[: config.limit] if config.limit else records


class GenEvalSuite(Suite):
    """GenEval with the official rules and pluggable detectors / colour classifiers."""

    name: ClassVar[str] = SUITE_NAME
    capability: ClassVar[str] = GENERATE
    Config: ClassVar[type] = GenEvalConfig
    primary_metric: ClassVar[str] = "correct"
    group_field: ClassVar[str | None] = "tag"

    @classmethod
    def required_paths(cls, config: GenEvalConfig) -> list[Any]:
        """Data files of ``config`` (``hbench run --check``; plugin options by convention)."""
        from hbench.harness.paths import RequiredPath

        out = []
        if config.prompts not in ("shapes", "coco"):
            out.append(RequiredPath("prompts", config.prompts, "GenEval metadata"))
        if config.object_names:
            out.append(RequiredPath("object_names", config.object_names, "object names"))
        return out

    def __init__(self, config: GenEvalConfig | None = None) -> None:
        super().__init__(config or GenEvalConfig())
        cfg: GenEvalConfig = self.config
        # 1. Everything checkable before any weights load: prompts, plugins and their options.
        self.records = load_prompts(cfg)
        self.thresholds = cfg.thresholds()
        self.detector = load_plugin(
            plugins.DETECTORS, cfg.detector, cfg.detector_options, "detector"
        )
        self.color_classifier = load_plugin(
            plugins.COLOR_CLASSIFIERS,
            cfg.color_classifier,
            cfg.color_classifier_options,
            "colour classifier",
        )
        self._loaded = False

    def protocol_card(self) -> ProtocolCard:
        """The profile and whether the numbers compare with the published ones."""
        return protocol_card(PROTOCOLS.get(self.config.protocol), self.config, len(self.records))

    def preflight(self) -> dict[str, Any]:
        """Detector and colour self-check on the calibration set (refuses below the bounds)."""
        cfg: GenEvalConfig = self.config
        source = cfg.calibration
        if source == AUTO:
            shapes_world = cfg.detector == "shapes" or cfg.prompts == "shapes"
            source = SHAPES_RECIPE if shapes_world else NONE
        if source == NONE:
            return {"checked": False, "why": "no calibration set (set calibration: <folder>)"}
        if source != SHAPES_RECIPE and not Path(source).is_dir():
            raise PreflightError(
                f"calibration {source!r} is not auto, shapes, none or a folder in the official "
                "layout (NNNNN/metadata.jsonl + samples/*.png); set suites.<geneval>.calibration"
            )
        cases = shapes_cases() if source == SHAPES_RECIPE else layout_cases(source)
        self._ensure_loaded()
        result = measure(self.detector, self.color_classifier, cases, self.thresholds)
        src = "the shapes recipe" if source == SHAPES_RECIPE else source
        bounds = (cfg.calibration_min_recall, cfg.calibration_min_color_accuracy)
        return {"checked": True, "detector": cfg.detector,
                "color_classifier": cfg.color_classifier, **check(result, *bounds, src)}  # fmt: skip

    def items(self, run_seed: int) -> list[Item]:
        """``NNNNN/SSSS`` for every prompt and sample, seeds from (run seed, suite, sample id)."""
        out = []
        for index, record in enumerate(self.records):
            for s in range(self.config.samples_per_prompt):
                sample = f"{index:05d}/{s:04d}"
                data = {"index": index, "sample_index": s, "metadata": record}
                out.append(Item(sample, sample_seed(run_seed, self.name, sample), data))
        return out

    def warmup_items(self, run_seed: int) -> list[Item]:
        """``warmup`` generations of the first prompt, run untimed before each variant."""
        return [
            Item(f"warmup/{k:04d}", sample_seed(run_seed, self.name, f"warmup/{k:04d}"),
                 {"index": 0, "sample_index": k, "metadata": self.records[0]})
            for k in range(self.config.warmup)
        ]  # fmt: skip

    def infer(self, system: System, item: Item) -> Any:
        """One ``generate`` call: the prompt and the item's seed."""
        require(system, GENERATE)
        return system.generate(item.data["metadata"]["prompt"], item.seed)

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self.detector.load()
            self.color_classifier.load()
            self._loaded = True

    def evaluate(self, item: Item, output: Any, artifacts: Artifacts) -> SampleResult:
        """Save the image (run store and official layout), detect, and apply the rules."""
        meta = item.data["metadata"]
        image = output.convert("RGB")
        rel = artifacts.save_image(item, image)
        layout_file = None
        if self.config.write_layout:
            root = artifacts.path("layout")
            layout_file = save_sample(
                root, item.data["index"], item.data["sample_index"], image, meta
            )
        self._ensure_loaded()
        score = score_image(
            meta, self.detector(image), image, self.color_classifier, self.thresholds
        )
        details = {
            "tag": meta["tag"],
            "prompt": meta["prompt"],
            "reason": score.reason,
            "metadata": json.dumps(meta),
            "detections": score.details_json(),
            "extras": score.extras,
            "layout_file": _relative(layout_file, artifacts),
        }
        return SampleResult(
            output={"image": rel, "prompt": meta["prompt"]},
            metrics={"correct": float(score.correct)},
            details=details,
        )

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """``summary_scores.py``'s numbers, per-tag accuracy, and extras beside them."""
        rows = records_to_results(records)
        s = summary_scores(rows)
        extras = [r["details"].get("extras", {}) for r in records]
        n = len(extras)
        return {
            "overall": s["overall"],
            "correct_images": s["correct_images"],
            "correct_prompts": s["correct_prompts"],
            "total_images": s["total_images"],
            "total_prompts": s["total_prompts"],
            "tags": {t: v["accuracy"] for t, v in s["tags"].items()},
            "tag_counts": {
                t: {"correct": v["correct"], "total": v["total"]} for t, v in s["tags"].items()
            },
            "extras": {
                "extra_objects_mean": sum(e.get("extra_objects", 0) for e in extras) / n,
                "surplus_objects_mean": sum(e.get("surplus_objects", 0) for e in extras) / n,
                **prompt_agreement(rows),
            },
        }

    def export(self, records: list[dict[str, Any]], artifacts: Artifacts, variant: str) -> None:
        """Official files beside the layout copy: ``results.jsonl`` and the prompts used."""
        write_results(artifacts.path("results.jsonl"), records_to_results(records))
        write_metadata(artifacts.path("evaluation_metadata.jsonl"), self.records)

    def compare(
        self, reference: list[dict[str, Any]], other: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Per-tag accuracy of both variants on the paired samples and verdict agreement."""
        if not reference:
            return {}
        per_tag: dict[str, dict[str, float]] = {}
        for ref, oth in zip(reference, other, strict=True):
            t = per_tag.setdefault(ref["details"]["tag"], {"reference": 0.0, "other": 0.0, "n": 0})
            t["reference"] += ref["metrics"]["correct"]
            t["other"] += oth["metrics"]["correct"]
            t["n"] += 1
        for t in per_tag.values():
            t["reference"] /= t["n"]
            t["other"] /= t["n"]
            t["diff"] = t["other"] - t["reference"]
        same = sum(
            r["metrics"]["correct"] == o["metrics"]["correct"]
            for r, o in zip(reference, other, strict=True)
        )
        return {"per_tag": per_tag, "same_verdict": same / len(reference)}


def _relative(path: Path | None, artifacts: Artifacts) -> str | None:
    """``path`` relative to the run directory when the artifacts know it (runs move)."""
    if path is None:
        return None
    run_dir = getattr(artifacts, "run_dir", None)
    if run_dir is not None and path.is_relative_to(run_dir):
        return path.relative_to(run_dir).as_posix()
    return str(path)


def records_to_results(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run-store records of the geneval suite as official results rows."""
    rows = []
    for r in records:
        d = r["details"]
        rows.append(
            {
                "filename": d.get("layout_file") or r["output"].get("image", r["sample"]),
                "tag": d["tag"],
                "prompt": d["prompt"],
                "correct": bool(r["metrics"]["correct"]),
                "reason": d["reason"],
                "metadata": d["metadata"],
                "details": d["detections"],
            }
        )
    return rows

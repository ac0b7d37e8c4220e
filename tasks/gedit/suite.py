"""The ``gedit`` suite: GEdit-Bench-style editing judged by VIEScore, aggregated officially.

Samples come from the shapes world's edit set (``source="shapes"``) or a local GEdit-Bench
copy (``source=<path>``). ``infer`` prepares the input image and calls only
``system.edit(image, instruction, seed)``; ``evaluate`` saves the edited (and source)
image, asks the judge (not timed model time) and computes the automatic metrics;
``summarize`` applies GEdit-Bench's aggregation per language, full set and intersection.
Judge failures are recorded per sample (``details.judge_error``), counted, and left out
of the means, as the official pipeline leaves failed samples out of its csv.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hbench.harness.protocol import STRICT, ProtocolCard
from hbench.harness.registry import UnknownNameError
from hbench.harness.suite import Artifacts, Item, SampleResult, Suite, sample_seed
from hbench.harness.system import EDIT, System, require

from .aggregate import ScoreRow, aggregate, write_official_csvs
from .judges.base import Judge, JudgeError, JudgeInput, make_judge
from .loader import GEDIT_TASK_TYPES, IMAGE_FIELDS, GEditData, GEditRow, fit_area
from .metrics import EditMetrics, MetricsConfig
from .protocols import PROTOCOLS, GEditProtocol, judge_standing, protocol_card
from .shapes_source import (
    COVERED_TYPES,
    NOT_COVERED_TYPES,
    edit_from_dict,
    edit_to_dict,
    edited_region,
    scene_caption,
)
from .shapes_source import shapes_edits as _shapes_edits

SHAPES = "shapes"
MAX_SAMPLES_PER_TYPE = 10_000  # shapes world: edits per type (GEdit-Bench has ~60 per type)


@dataclass(frozen=True)
class GEditConfig:
    """Parameters of the ``gedit`` suite."""

    source: str = SHAPES  # "shapes" or a path to GEdit-Bench parquet / arrow files
    samples_per_type: int = 8  # shapes world: edits per covered task type
    shapes_seed: int = 0  # shapes world: seed of the (fixed) edit set
    task_types: tuple[str, ...] = ()  # empty: every type the source has
    languages: tuple[str, ...] = ()  # empty: every language the source has
    max_samples: int = 0  # 0: all; else the first N items (smoke runs)
    protocol: str = STRICT  # a PROTOCOLS name: official | strict (fills the empty fields below)
    judge: str = ""  # a JUDGES name: shapes | vlm | openai ("": the profile's)
    judge_options: dict[str, Any] = field(default_factory=dict)  # over the profile's
    intersection: bool = True  # also report the Intersection_exist subset
    metrics: bool = True  # automatic metrics beside the judge
    metrics_options: dict[str, Any] = field(default_factory=dict)  # MetricsConfig fields
    input_image: str = ""  # GEdit-Bench column fed to the editor ("": the profile's)
    input_area: int | None = None  # resize the input to about this area (0: keep; None: profile)
    save_source_images: bool = True  # save the judged source image beside each output

    def check(self) -> None:
        """Validate before any data or model loads."""
        if self.source != SHAPES and not Path(self.source).exists():
            raise FileNotFoundError(
                f"gedit: source {self.source!r} is neither 'shapes' nor an existing path"
            )
        bad = [t for t in self.task_types if t not in GEDIT_TASK_TYPES]
        if bad:
            raise ValueError(
                f"gedit: unknown task type(s) {', '.join(bad)}; known: {', '.join(GEDIT_TASK_TYPES)}"
            )
        try:
            PROTOCOLS.get(self.protocol)
        except UnknownNameError as err:
            raise ValueError(f"gedit: {err}") from err
        if self.samples_per_type < 1 or self.max_samples < 0 or (self.input_area or 0) < 0:
            raise ValueError(
                "gedit: samples_per_type must be >= 1, max_samples and input_area >= 0"
            )
        if self.samples_per_type > MAX_SAMPLES_PER_TYPE:  # the edits are drawn up front
            raise ValueError(f"gedit: samples_per_type must be <= {MAX_SAMPLES_PER_TYPE}")
        if self.input_image and self.input_image not in IMAGE_FIELDS:
            raise ValueError(f"gedit: input_image must be one of {', '.join(IMAGE_FIELDS)}")


class GEditSuite(Suite):
    """GEdit-Bench-style editing suite (primary metric: O)."""

    name = "gedit"
    capability = EDIT
    Config = GEditConfig
    primary_metric = "O"
    group_field = "task_type"
    report_metrics = ("O", "SC", "PQ")

    @classmethod
    def required_paths(cls, config: GEditConfig) -> list[Any]:
        """Data of ``config`` (``hbench run --check``; plugin options by convention)."""
        from hbench.harness.paths import RequiredPath

        if config.source == SHAPES:
            return []
        return [RequiredPath("source", config.source, "GEdit-Bench copy")]

    def __init__(self, config: GEditConfig | None = None, *, judge: Judge | None = None,
                 metrics: EditMetrics | None = None) -> None:  # fmt: skip
        config = config or GEditConfig()
        config.check()
        super().__init__(config)
        self._judge = judge
        self._metrics = metrics
        self._data: GEditData | None = None
        # The profile fills what the config leaves open; the config always wins.
        self.protocol: GEditProtocol = PROTOCOLS.get(config.protocol)
        p = self.protocol
        self.judge_name = config.judge or (SHAPES if config.source == SHAPES else p.judge)
        defaults = dict(p.judge_options) if self.judge_name == p.judge else {}
        if "parsing" in _option_names(self.judge_name):  # chat judges: the profile's parsing
            defaults.setdefault("parsing", p.parsing)
        self.judge_options = {**defaults, **config.judge_options}
        self.input_field = config.input_image or p.input_image
        self.input_area = p.input_area if config.input_area is None else config.input_area
        self.judge_comparable, self.judge_standing = judge_standing(
            self.judge_name, self.judge_options
        )

    def protocol_card(self) -> ProtocolCard:
        """The profile and whether the numbers compare with BAGEL's published ones."""
        return protocol_card(self.protocol, self.config, self.judge_name, self.judge_options)

    # ---- samples ---------------------------------------------------------------------
    def groups(self) -> tuple[str, ...]:
        """Task types averaged over: the requested ones the source covers."""
        have = COVERED_TYPES if self.config.source == SHAPES else GEDIT_TASK_TYPES
        wanted = self.config.task_types or GEDIT_TASK_TYPES
        return tuple(t for t in GEDIT_TASK_TYPES if t in wanted and t in have)

    def not_covered(self) -> tuple[str, ...]:
        """Requested GEdit task types the source cannot provide (shapes world only)."""
        if self.config.source != SHAPES:
            return ()
        wanted = self.config.task_types or GEDIT_TASK_TYPES
        return tuple(t for t in NOT_COVERED_TYPES if t in wanted)

    def data(self) -> GEditData:
        """The local GEdit-Bench copy (loaded once per suite)."""
        if self._data is None:
            self._data = GEditData(self.config.source)
        return self._data

    def items(self, run_seed: int) -> list[Item]:
        """Samples sorted by id; ids are ``<type>-NNN`` (shapes) or GEdit keys."""
        cfg = self.config
        if cfg.source == SHAPES:
            if cfg.languages and "en" not in cfg.languages:
                raise ValueError("gedit: the shapes world has English instructions only ('en')")
            made = _shapes_edits(self.groups(), cfg.samples_per_type, cfg.shapes_seed)
            items = [
                Item(sid, sample_seed(run_seed, self.name, sid), {
                    "task_type": e.kind, "key": sid, "instruction": e.instruction, "language": "en",
                    "intersection": True, "edit": edit_to_dict(e)})
                for sid, e in made
            ]  # fmt: skip
        else:
            items = self._official_items(run_seed)
        return items[: cfg.max_samples] if cfg.max_samples else items

    def _official_items(self, run_seed: int) -> list[Item]:
        data, groups, langs = self.data(), set(self.groups()), set(self.config.languages)
        rows = [
            (i, r)
            for i, r in enumerate(data.rows)
            if r.task_type in groups and (not langs or r.language in langs)
        ]
        keys = [r.key for _, r in rows]
        unique = len(set(keys)) == len(keys)  # else the language disambiguates the id
        items = []
        for i, r in rows:
            sid = r.key if unique else f"{r.key}_{r.language}"
            items.append(Item(sid, sample_seed(run_seed, self.name, sid), {
                "task_type": r.task_type, "key": r.key, "instruction": r.instruction,
                "language": r.language, "intersection": r.intersection, "row": i}))  # fmt: skip
        if len({it.sample for it in items}) != len(items):
            raise ValueError(f"gedit: {self.config.source}: duplicate (key, language) pairs")
        return sorted(items, key=lambda it: it.sample)

    # ---- images ----------------------------------------------------------------------
    def _row(self, item: Item) -> GEditRow:
        return self.data().rows[item.data["row"]]

    def input_image(self, item: Item) -> Image.Image:
        """The image the editor receives."""
        if "edit" in item.data:
            from hbench.worlds.shapes import render

            return Image.fromarray(render(edit_from_dict(item.data["edit"]).source))
        image = self.data().image(self._row(item), self.input_field)
        if self.input_area:
            image = image.resize(fit_area(*image.size, area=self.input_area))
        return image

    def source_image(self, item: Item) -> Image.Image:
        """The image the judge compares against (GEdit-Bench: ``input_image``)."""
        if "edit" in item.data:
            return self.input_image(item)
        return self.data().image(self._row(item), "input_image")

    # ---- contract --------------------------------------------------------------------
    def infer(self, system: System, item: Item) -> Image.Image:
        """Prepare the input and call ``system.edit`` (input decoding costs both variants alike)."""
        require(system, EDIT)
        return system.edit(self.input_image(item), item.data["instruction"], item.seed)

    def judge(self) -> Judge:
        """The configured judge, built and loaded on first use."""
        if self._judge is None:
            self._judge = make_judge(self.judge_name, self.judge_options)
            self._judge.load()
        return self._judge

    def metrics(self) -> EditMetrics:
        """The automatic metrics, built on first use."""
        if self._metrics is None:
            self._metrics = EditMetrics(MetricsConfig(**self.config.metrics_options))
        return self._metrics

    def evaluate(self, item: Item, output: Any, artifacts: Artifacts) -> SampleResult:
        """Save images, judge, and compute metrics for one edited image."""
        if not isinstance(output, Image.Image):
            raise TypeError(
                f"gedit: system.edit returned {type(output).__name__}, expected a PIL image"
            )
        d = item.data
        edited = output.convert("RGB")
        source = self.source_image(item)
        out = {"image": artifacts.save_image(item, edited), "instruction": d["instruction"],
               "task_type": d["task_type"], "language": d["language"], "key": d["key"],
               "intersection": d["intersection"]}  # fmt: skip
        if self.config.save_source_images:
            out["source_image"] = artifacts.save_image(item, source, tag="src")
        # GEdit-Bench judges the edited image resized to the source image's size.
        judged = edited if edited.size == source.size else edited.resize(source.size, Image.BICUBIC)
        metrics: dict[str, float] = {}
        details: dict[str, Any] = {"judge": self.judge_name}
        try:
            scores = self.judge().judge(JudgeInput(source, judged, d["instruction"], d.get("edit")))
        except JudgeError as err:
            details["judge_info"] = self._judge_info()
            details["judge_error"] = err.to_record()
            details["reason"] = f"judge error: {err}"
        else:
            metrics.update(SC=scores.sc, PQ=scores.pq, O=scores.overall)
            details["judge_info"] = self._judge_info()
            details.update(sc_scores=scores.sc_scores, pq_scores=scores.pq_scores,
                           attempts=scores.attempts, reason=scores.reason or "judged")  # fmt: skip
            if scores.raw:
                details["judge_raw"] = scores.raw
        if self.config.metrics:
            metrics.update(self._auto_metrics(item, source, judged))
        return SampleResult(out, metrics, details)

    def _judge_info(self) -> dict[str, Any]:
        """Who judged this sample: identity, version, decoding, and its standing."""
        return {**self.judge().identity(), "standing": self.judge_standing}

    def _auto_metrics(
        self, item: Item, source: Image.Image, edited: Image.Image
    ) -> dict[str, float]:
        if "edit" not in item.data:
            return self.metrics().compute(source, edited)
        edit = edit_from_dict(item.data["edit"])
        captions = (scene_caption(edit.source), scene_caption(edit.expected))
        return self.metrics().compute(source, edited, edited_region(edit), captions)

    # ---- aggregation -----------------------------------------------------------------
    @staticmethod
    def score_rows(records: list[dict[str, Any]]) -> list[ScoreRow]:
        """Judged records as aggregation rows (records with errors are left out)."""
        rows = []
        for rec in records:
            m, o = rec.get("metrics") or {}, rec.get("output") or {}
            if rec.get("error") or "SC" not in m or "PQ" not in m:
                continue
            rows.append(ScoreRow(o["task_type"], o["language"], float(m["SC"]), float(m["PQ"]),
                                 bool(o["intersection"]), o.get("instruction", ""),
                                 o.get("source_image", ""), o.get("image", "")))  # fmt: skip
        return rows

    def summarize(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Official GEdit-Bench statistics per language, plus metric means per task type."""
        rows = self.score_rows(records)
        langs = sorted({r.language for r in rows} | set(self.config.languages))
        per_lang = {}
        for lang in langs:
            s = aggregate(rows, lang, self.groups())
            entry = {"fullset": s.fullset.to_json()}
            if self.config.intersection:
                entry["intersection"] = s.intersection.to_json()
            per_lang[lang] = entry
        first = per_lang[langs[0]]["fullset"] if langs else {}
        return {
            "overall": first.get("avg_overall"),
            "semantics": first.get("avg_semantics"),
            "quality": first.get("avg_quality"),
            "primary_language": langs[0] if langs else None,
            "languages": per_lang,
            "task_types": list(self.groups()),
            "not_covered": list(self.not_covered()),
            "n": len(records),
            "judged": len(rows),
            "judge_errors": sum(1 for r in records if (r.get("details") or {}).get("judge_error")),
            "errors": sum(1 for r in records if r.get("error")),
            "metrics": _metric_means(records, self.groups()),
            # From the config and files, not from what this process happened to load, so a
            # resume that runs no sample scores the same as the uninterrupted run.
            "metrics_unavailable": self.metrics().availability() if self.config.metrics else {},
            "judge": {
                "name": self.judge_name,
                "options": dict(self.judge_options),
                "comparable": self.judge_comparable,
                "standing": self.judge_standing,
            },  # fmt: skip
            "protocol": self.protocol.name,
            "input_image": self.input_field,
        }

    def compare(
        self, reference: list[dict[str, Any]], other: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Paired per-task-type mean change of O (other - reference) on samples both judged."""
        ref = {r["sample"]: r for r in reference if "O" in (r.get("metrics") or {})}
        out: dict[str, Any] = {}
        for t in self.groups():
            diffs = [o["metrics"]["O"] - ref[o["sample"]]["metrics"]["O"] for o in other
                     if o["sample"] in ref and "O" in (o.get("metrics") or {})
                     and (o.get("output") or {}).get("task_type") == t]  # fmt: skip
            out[t] = {
                "n_pairs": len(diffs),
                "mean_diff_O": float(np.mean(diffs)) if diffs else None,
            }
        return {"per_task_type": out}

    def export(self, records: list[dict[str, Any]], artifacts: Artifacts, model: str) -> list[Path]:
        """Write the official-format csv files of one variant into the run (``gedit_csv/``)."""
        return write_official_csvs(
            self.score_rows(records), artifacts.path("gedit_csv"), model, self.groups()
        )


def _option_names(judge: str) -> set[str]:
    """Option names of a registered judge (empty for an unknown name: make_judge names it)."""
    from hbench.harness.plugins import JUDGES

    if judge not in JUDGES:
        return set()
    return {f.name for f in dataclasses.fields(JUDGES.get(judge).Options)}


def _metric_means(records: list[dict[str, Any]], groups: tuple[str, ...]) -> dict[str, Any]:
    names = sorted(
        {k for r in records for k in (r.get("metrics") or {}) if k not in ("SC", "PQ", "O")}
    )
    out: dict[str, Any] = {}
    for name in names:
        by_type = {}
        for t in groups:
            vals = [r["metrics"][name] for r in records
                    if name in (r.get("metrics") or {}) and (r.get("output") or {}).get("task_type") == t]  # fmt: skip
            by_type[t] = float(np.mean(vals)) if vals else None
        present = [v for v in by_type.values() if v is not None and not math.isnan(v)]
        out[name] = {
            "per_task_type": by_type,
            "mean_over_types": float(np.mean(present)) if present else None,
        }
    return out

"""The registries every layer plugs into, with the built-in entries given lazily.

Entries are ``"module:attr"`` strings so that listing them imports no torch; the
object is imported on first ``get``. Third-party packages add entries through the
``hbench.plugins`` entry-point group: each entry point is a callable that receives
this module and registers into its registries.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from .registry import Registry

SYSTEMS: Registry = Registry("system family")
SUITES: Registry = Registry("suite")
DETECTORS: Registry = Registry("detector")
COLOR_CLASSIFIERS: Registry = Registry("colour classifier")
JUDGES: Registry = Registry("judge")
METRICS: Registry = Registry("metric")
PROMPT_SOURCES: Registry = Registry("prompt source")

ALL: dict[str, Registry] = {
    "systems": SYSTEMS,
    "suites": SUITES,
    "detectors": DETECTORS,
    "colour classifiers": COLOR_CLASSIFIERS,
    "judges": JUDGES,
    "metrics": METRICS,
    "prompt sources": PROMPT_SOURCES,
}

# ---- built-in entries (lazy) ------------------------------------------------------------
SYSTEMS.add(
    "shapes",
    "hbench.baselines.shapes.family:ShapesFamily",
    "embedded shapes world: oracle reference, trained baseline and accelerated students",
)
SYSTEMS.add(
    "diffusers",
    "hbench.baselines.diffusers.family:DiffusersFamily",
    "any diffusers text-to-image pipeline from a local path: baseline, few-step, scheduler, LoRA, distilled",
)
SUITES.add(
    "geneval",
    "hbench.tasks.geneval.suite:GenEvalSuite",
    "GenEval with the official rules (thresholds, counting, colour, position), official layout",
)
SUITES.add(
    "understanding",
    "hbench.tasks.understanding.suite:UnderstandingSuite",
    "shapes caption/VQA, MME, MMBench, MMMU from local files; answer extraction; lossless token check",
)
SUITES.add(
    "latency",
    "hbench.tasks.latency:LatencySuite",
    "seconds/sample (p10/p50/p90/p99), tokens/s, hook-counted NFE, stages, memory; paired speedups",
)
DETECTORS.add(
    "shapes", "hbench.tasks.geneval.detectors:ShapesDetector", "exact shapes-world detector"
)
DETECTORS.add(
    "hf-detection",
    "hbench.tasks.geneval.hf_detection:HFDetector",
    "transformers Mask2Former / DETR / OWLv2 from a local folder, labels mapped to GenEval classes "
    "(equivalence to mmdet not measured)",
)
DETECTORS.add(
    "mmdet",
    "hbench.tasks.geneval.detectors:MMDetDetector",
    "the official mmdet detector (only if mmdet is installed)",
)
COLOR_CLASSIFIERS.add(
    "shapes",
    "hbench.tasks.geneval.colors:ShapesColorClassifier",
    "exact shapes-world palette colour",
)
COLOR_CLASSIFIERS.add(
    "clip",
    "hbench.tasks.geneval.colors:ClipColorClassifier",
    "open_clip zero-shot over the ten GenEval colours, three official templates, #999 backdrop",
)

SUITES.add(
    "gedit",
    "hbench.tasks.gedit.suite:GEditSuite",
    "GEdit-Bench-style editing: VIEScore judging (SC, PQ, O), official per-type/intersection/language aggregation",
)
JUDGES.add(
    "vlm",
    "hbench.tasks.gedit.judges.vlm:VLMJudge",
    "VIEScore with a local transformers chat VLM (e.g. Qwen2.5-VL) from a path",
)
JUDGES.add(
    "openai",
    "hbench.tasks.gedit.judges.openai_judge:OpenAIJudge",
    "VIEScore through an OpenAI-compatible chat endpoint (base URL and key from config/environment)",
)
JUDGES.add(
    "shapes",
    "hbench.tasks.gedit.judges.shapes:ShapesJudge",
    "exact VIEScore-shaped judge for shapes-world edits (edit checker + rendering cleanliness)",
)
SYSTEMS.add(
    "diffusers-edit",
    "hbench.baselines.diffusers_edit.family:DiffusersEditFamily",
    "diffusers InstructPix2Pix-style editing pipeline from a local path: baseline and few-step",
)

SYSTEMS.add(
    "hf",
    "hbench.baselines.hf.family:HFFamily",
    "any transformers causal LM or VLM from a local path: baseline greedy and speculative decoding",
)
SYSTEMS.add(
    "bagel",
    "hbench.baselines.bagel.family:BagelFamily",
    "BAGEL from a local checkout of its official code + local weights: baseline, kernels, spec, nfe6, nfe1",
)

METRICS.add(
    "hpsv2",
    "hbench.tasks.metrics.preference:HPSv2Metric",
    "HPSv2 preference: open_clip ViT-H-14 + HPS checkpoint (local), 100 x cos(image, prompt)",
)
METRICS.add(
    "pickscore",
    "hbench.tasks.metrics.preference:PickScoreMetric",
    "PickScore preference: transformers CLIP-H + PickScore checkpoint (local folder)",
)
METRICS.add(
    "clipscore",
    "hbench.tasks.metrics.clipscore:ClipScoreMetric",
    "CLIPScore prompt-image alignment: torchmetrics CLIPScore over a local transformers CLIP",
)
METRICS.add(
    "aesthetic",
    "hbench.tasks.metrics.aesthetic:AestheticMetric",
    "LAION aesthetic predictor: MLP/linear head over CLIP image embeddings (local weights)",
)
METRICS.add(
    "fid",
    "hbench.tasks.metrics.distribution:FIDMetric",
    "FID vs a reference image folder (torchmetrics; Inception or CLIP features, local weights)",
)
METRICS.add(
    "kid",
    "hbench.tasks.metrics.distribution:KIDMetric",
    "KID vs a reference image folder (torchmetrics; Inception or CLIP features, local weights)",
)
METRICS.add(
    "shapes-palette",
    "hbench.tasks.metrics.shapes_quality:ShapesPaletteMetric",
    "shapes world: palette cleanliness of generated images, 0-1 (exact, no weights)",
)
METRICS.add(
    "shapes-edges",
    "hbench.tasks.metrics.shapes_quality:ShapesEdgesMetric",
    "shapes world: edge sharpness of generated shapes, 0-1 (exact, no weights)",
)

_plugins_loaded = False


def load_entry_point_plugins() -> None:
    """Run third-party ``hbench.plugins`` entry points once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="hbench.plugins"):
        ep.load()(__import__(__name__, fromlist=["_"]))

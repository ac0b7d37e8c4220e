"""The table of hbench's built-in plugins: the concrete suites, systems and scorers by name.

The core (:mod:`hbench.harness.plugins`) owns the registries and names nothing above it;
this face module fills them with lazy ``"module:attr"`` entries, so listing them imports no
torch. :func:`register` has the signature of a third-party ``hbench.plugins`` entry point:
the built-ins are simply the first plugin, wired by :mod:`hbench.wiring`.
"""

from __future__ import annotations

from types import ModuleType

# (registry of hbench.harness.plugins, name, lazy "module:attr", help line), in listing order.
BUILTINS: tuple[tuple[str, str, str, str], ...] = (
    (
        "SYSTEMS",
        "shapes",
        "hbench.baselines.shapes.family:ShapesFamily",
        "embedded shapes world: oracle reference, trained baseline and accelerated students",
    ),
    (
        "SYSTEMS",
        "diffusers",
        "hbench.baselines.diffusers.family:DiffusersFamily",
        "any diffusers text-to-image pipeline from a local path: baseline, few-step, scheduler, LoRA, distilled",
    ),
    (
        "SUITES",
        "geneval",
        "hbench.tasks.geneval.suite:GenEvalSuite",
        "GenEval with the official rules (thresholds, counting, colour, position), official layout",
    ),
    (
        "SUITES",
        "understanding",
        "hbench.tasks.understanding.suite:UnderstandingSuite",
        "shapes caption/VQA, MME, MMBench, MMMU from local files; answer extraction; lossless token check",
    ),
    (
        "SUITES",
        "latency",
        "hbench.tasks.latency:LatencySuite",
        "seconds/sample (p10/p50/p90/p99), tokens/s, hook-counted NFE, stages, memory; paired speedups",
    ),
    (
        "DETECTORS",
        "shapes",
        "hbench.tasks.geneval.detectors:ShapesDetector",
        "exact shapes-world detector",
    ),
    (
        "DETECTORS",
        "hf-detection",
        "hbench.tasks.geneval.hf_detection:HFDetector",
        "transformers Mask2Former / DETR / OWLv2 from a local folder, labels mapped to GenEval classes (equivalence to mmdet not measured)",
    ),
    (
        "DETECTORS",
        "mmdet",
        "hbench.tasks.geneval.detectors:MMDetDetector",
        "the official mmdet detector (only if mmdet is installed)",
    ),
    (
        "COLOR_CLASSIFIERS",
        "shapes",
        "hbench.tasks.geneval.colors:ShapesColorClassifier",
        "exact shapes-world palette colour",
    ),
    (
        "COLOR_CLASSIFIERS",
        "clip",
        "hbench.tasks.geneval.colors:ClipColorClassifier",
        "open_clip zero-shot over the ten GenEval colours, three official templates, #999 backdrop",
    ),
    (
        "SUITES",
        "gedit",
        "hbench.tasks.gedit.suite:GEditSuite",
        "GEdit-Bench-style editing: VIEScore judging (SC, PQ, O), official per-type/intersection/language aggregation",
    ),
    (
        "JUDGES",
        "vlm",
        "hbench.tasks.gedit.judges.vlm:VLMJudge",
        "VIEScore with a local transformers chat VLM (e.g. Qwen2.5-VL) from a path",
    ),
    (
        "JUDGES",
        "openai",
        "hbench.tasks.gedit.judges.openai_judge:OpenAIJudge",
        "VIEScore through an OpenAI-compatible chat endpoint (base URL and key from config/environment)",
    ),
    (
        "JUDGES",
        "shapes",
        "hbench.tasks.gedit.judges.shapes:ShapesJudge",
        "exact VIEScore-shaped judge for shapes-world edits (edit checker + rendering cleanliness)",
    ),
    (
        "SYSTEMS",
        "diffusers-edit",
        "hbench.baselines.diffusers_edit.family:DiffusersEditFamily",
        "diffusers InstructPix2Pix-style editing pipeline from a local path: baseline and few-step",
    ),
    (
        "SYSTEMS",
        "hf",
        "hbench.baselines.hf.family:HFFamily",
        "any transformers causal LM or VLM from a local path: baseline greedy and speculative decoding",
    ),
    (
        "SYSTEMS",
        "bagel",
        "hbench.baselines.bagel.family:BagelFamily",
        "BAGEL from a local checkout of its official code + local weights: baseline, kernels, spec, nfe6, nfe1",
    ),
    (
        "METRICS",
        "hpsv2",
        "hbench.tasks.metrics.preference:HPSv2Metric",
        "HPSv2 preference: open_clip ViT-H-14 + HPS checkpoint (local), 100 x cos(image, prompt)",
    ),
    (
        "METRICS",
        "pickscore",
        "hbench.tasks.metrics.preference:PickScoreMetric",
        "PickScore preference: transformers CLIP-H + PickScore checkpoint (local folder)",
    ),
    (
        "METRICS",
        "clipscore",
        "hbench.tasks.metrics.clipscore:ClipScoreMetric",
        "CLIPScore prompt-image alignment: torchmetrics CLIPScore over a local transformers CLIP",
    ),
    (
        "METRICS",
        "aesthetic",
        "hbench.tasks.metrics.aesthetic:AestheticMetric",
        "LAION aesthetic predictor: MLP/linear head over CLIP image embeddings (local weights)",
    ),
    (
        "METRICS",
        "fid",
        "hbench.tasks.metrics.distribution:FIDMetric",
        "FID vs a reference image folder (torchmetrics; Inception or CLIP features, local weights)",
    ),
    (
        "METRICS",
        "kid",
        "hbench.tasks.metrics.distribution:KIDMetric",
        "KID vs a reference image folder (torchmetrics; Inception or CLIP features, local weights)",
    ),
    (
        "METRICS",
        "shapes-palette",
        "hbench.tasks.metrics.shapes_quality:ShapesPaletteMetric",
        "shapes world: palette cleanliness of generated images, 0-1 (exact, no weights)",
    ),
    (
        "METRICS",
        "shapes-edges",
        "hbench.tasks.metrics.shapes_quality:ShapesEdgesMetric",
        "shapes world: edge sharpness of generated shapes, 0-1 (exact, no weights)",
    ),
)


def register(plugins: ModuleType) -> None:
    """Add the built-in entries to the registries of ``plugins`` (the core registry module)."""
    for registry, name, target, help_text in BUILTINS:
        getattr(plugins, registry).add(name, target, help_text)

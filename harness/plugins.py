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
DETECTORS.add(
    "shapes", "hbench.tasks.geneval.detectors:ShapesDetector", "exact shapes-world detector"
)
DETECTORS.add(
    "hf-detection",
    "hbench.tasks.geneval.hf_detection:HFDetector",
    "transformers Mask2Former / DETR / OWLv2 from a local folder, labels mapped to GenEval classes",
)
DETECTORS.add(
    "mmdet",
    "hbench.tasks.geneval.detectors:MMDetDetector",
    "the official mmdet detector (only if mmdet is installed)",
)
COLOR_CLASSIFIERS.add(
    "shapes", "hbench.tasks.geneval.colors:ShapesColorClassifier", "exact shapes-world palette colour"
)
COLOR_CLASSIFIERS.add(
    "clip",
    "hbench.tasks.geneval.colors:ClipColorClassifier",
    "open_clip zero-shot over the ten GenEval colours, three official templates, #999 backdrop",
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

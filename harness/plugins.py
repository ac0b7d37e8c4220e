"""The registries every layer plugs into (empty here: the core names no concrete plugin).

Entries are ``"module:attr"`` strings so that listing them imports no torch; the object is
imported on first ``get``. The built-in entries are added by the face
(:mod:`hbench.builtin_plugins`, wired when the ``hbench`` package is imported). Third-party
packages add entries through the ``hbench.plugins`` entry-point group: each entry point is a
callable that receives this module and registers into its registries.
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

ALL: dict[str, Registry] = {
    "systems": SYSTEMS,
    "suites": SUITES,
    "detectors": DETECTORS,
    "colour classifiers": COLOR_CLASSIFIERS,
    "judges": JUDGES,
    "metrics": METRICS,
}

_plugins_loaded = False


def load_entry_point_plugins() -> None:
    """Run third-party ``hbench.plugins`` entry points once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group="hbench.plugins"):
        ep.load()(__import__(__name__, fromlist=["_"]))

"""Every local path a run config needs, checked at once before anything loads.

``hbench run CONFIG --check`` lists every missing checkout, weights file and data path of a
config in one go (building a system or a suite stops at the first one). Where the paths come
from:

* a family's optional classmethod ``required_paths(variant, options) -> list[RequiredPath]``
  (e.g. ``bagel``: the checkout and the files its loader imports, the weights folder and the
  files the eval scripts read, the head and distilled weights of the variants that use them);
* a suite's optional classmethod ``required_paths(config) -> list[RequiredPath]`` (its data);
* by convention, everywhere else: a non-empty string under a key in :data:`PATH_KEYS` or
  ending in ``_path``, in a family's options without the hook, in a suite's plugin option
  mappings (``detector_options``, ``judge_options`` ...) and in the metrics' options. hbench
  never takes hub ids, so such a value is a local path.

Relative paths are resolved from the working directory, as the run resolves them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config_specs import RunConfig
from .registry import Registry

PATH_KEYS: tuple[str, ...] = ("path", "checkpoint", "weights", "object_names")


@dataclass(frozen=True)
class RequiredPath:
    """A path a run needs: its config key, what it is, and files that must be inside it."""

    key: str
    path: str
    what: str
    inside: tuple[str, ...] = ()

    def problem(self) -> str | None:
        """One line naming the key and what is missing, or None when all is there."""
        p = Path(self.path).expanduser()
        if not p.exists():
            return f"{self.key}: {self.what} {str(p)!r} not found"
        missing = [f for f in self.inside if not (p / f).exists()]
        if missing:
            return f"{self.key}: {self.what} {str(p)!r} lacks {', '.join(missing)}"
        return None


def _is_path_key(key: str) -> bool:
    return key in PATH_KEYS or key.endswith("_path")


def option_paths(prefix: str, options: Any) -> list[RequiredPath]:
    """Paths by convention in an options mapping or dataclass (top-level keys only)."""
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        options = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    if not isinstance(options, Mapping):
        return []
    return [
        RequiredPath(f"{prefix}.{key}", value, key.replace("_", " "))
        for key, value in options.items()
        if _is_path_key(str(key)) and isinstance(value, str) and value
    ]


def required_paths(config: RunConfig, systems: Registry, suites: Registry) -> list[RequiredPath]:
    """Every path ``config`` names, deduplicated by (key, path), in config order."""
    found: list[RequiredPath] = []
    family = systems.get(config.system.family)
    hook = getattr(family, "required_paths", None)
    for variant in config.system.variants:
        options = config.system.options_for(variant)
        if hook is not None:
            found.extend(hook(variant, options))
        else:
            found.extend(option_paths("system.options", options))
    for spec in config.suites:
        suite_cls = suites.get(spec.kind)
        suite_hook = getattr(suite_cls, "required_paths", None)
        if suite_hook is not None:
            found.extend(
                dataclasses.replace(r, key=f"suites.{spec.name}.{r.key}")
                for r in suite_hook(spec.params)
            )
        for field in dataclasses.fields(spec.params):
            if field.name.endswith("_options"):
                prefix = f"suites.{spec.name}.{field.name}"
                found.extend(option_paths(prefix, getattr(spec.params, field.name)))
    for metric in config.metrics:
        found.extend(option_paths(f"metrics.{metric.name}", metric.params))
    return _unique(found)


def _unique(paths: Iterable[RequiredPath]) -> list[RequiredPath]:
    seen: set[tuple[str, str]] = set()
    out = []
    for r in paths:
        if (r.key, r.path) not in seen:
            seen.add((r.key, r.path))
            out.append(r)
    return out


def missing_paths(config: RunConfig, systems: Registry, suites: Registry) -> list[str]:
    """One line per missing path (or missing file inside a folder) of ``config``."""
    return [
        f"{config.source}: {problem}"
        for r in required_paths(config, systems, suites)
        if (problem := r.problem()) is not None
    ]

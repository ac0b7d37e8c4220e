"""Run configuration: a YAML file validated against typed dataclasses.

A config names one system family with the variants to compare, and the suites with their
parameters. Every key is checked: an unknown key, an unknown system or suite, or a value of
the wrong type is a :class:`ConfigError` naming the file, the line and the key.

This module builds the specs of :mod:`.config_specs` from YAML parsed with its lines
(:mod:`.config_yaml`), checking each value with :mod:`.config_coerce`.

Example::

    out: runs/shapes          # optional; the CLI's --out wins
    device: cpu               # cpu | cuda | cuda:N
    dtype: float32            # float32 | bfloat16 | float16
    seed: 0
    kernels: auto             # auto (Triton on CUDA, else PyTorch) | triton | reference
    threads: 1                # optional: torch CPU threads (batch-1 decoding likes 1)
    count_flops: false        # optional: FLOPs per sample (FlopCounterMode; never in timing suites)
    system:
      family: shapes
      reference: baseline     # optional; default: the family's reference variant
      bounds: [oracle]        # optional; oracles / bounds get quality rows only (default: family's)
      variants: [oracle, baseline, nfe6, nfe1]   # or a mapping variant -> options
      options: {}             # family options (validated by the family's Options)
    suites:
      geneval: {prompts_per_tag: 10, variants: [oracle, baseline, nfe6, nfe1]}
    metrics:                  # optional: image-quality post-pass over the run store
      hpsv2: {checkpoint: weights/HPS_v2.1.safetensors, suites: [geneval]}
      shapes-palette: {}      # ``metric:`` names the registered metric (default: the key)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from .config_coerce import build_dataclass, check_name, coerce, unknown_key
from .config_specs import MetricSpec, RunConfig, SuiteSpec, SystemSpec
from .config_yaml import ConfigError, _Located, parse_yaml
from .registry import Registry, UnknownNameError
from .textio import InputFileError, read_utf8

_TOP_KEYS = {"out", "device", "dtype", "seed", "kernels", "threads", "count_flops", "system",
             "suites", "metrics"}  # fmt: skip


def load_config(
    path: str | Path,
    systems: Registry,
    suites: Registry,
    text: str | None = None,
    metrics: Registry | None = None,
) -> RunConfig:
    """Load and validate a run config file against the system, suite and metric registries."""
    source = str(path)
    if text is None:
        try:
            text = read_utf8(path, "config")
        except InputFileError as err:
            raise ConfigError(str(err)) from err
    data, loc = parse_yaml(text, source)
    return build_config(data, loc, systems, suites, metrics)


def build_config(
    data: Any,
    loc: _Located,
    systems: Registry,
    suites: Registry,
    metrics: Registry | None = None,
) -> RunConfig:
    """Validate an already parsed config mapping (``metrics``: default the METRICS registry)."""
    if not isinstance(data, dict):
        raise loc.error((), "a config must be a mapping with keys system and suites")
    for key in data:
        if key not in _TOP_KEYS:
            raise unknown_key(loc, (), key, _TOP_KEYS)
    for key in ("system", "suites"):
        if key not in data:
            raise loc.error((), f"missing required key {key!r}")
    system = _build_system(data["system"], loc, systems)
    suite_specs = _build_suites(data["suites"], loc, suites, system)
    metric_specs: tuple[MetricSpec, ...] = ()
    if data.get("metrics") is not None:
        if metrics is None:
            from .plugins import METRICS as metrics  # core registry; entries stay lazy
        metric_specs = _build_metrics(data["metrics"], loc, metrics, suites, suite_specs)
    device = coerce(data.get("device", "cpu"), str, ("device",), loc)
    if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise loc.error(("device",), f"expected cpu, cuda or cuda:N, got {device!r}")
    return RunConfig(
        system=system,
        suites=suite_specs,
        out=coerce(data.get("out"), str | None, ("out",), loc),
        device=device,
        dtype=coerce(
            data.get("dtype", "float32"), Literal["float32", "bfloat16", "float16"], ("dtype",), loc
        ),
        seed=coerce(data.get("seed", 0), int, ("seed",), loc),
        threads=_threads(data.get("threads"), loc),
        count_flops=coerce(data.get("count_flops", False), bool, ("count_flops",), loc),
        kernels=coerce(
            data.get("kernels", "auto"), Literal["auto", "triton", "reference"], ("kernels",), loc
        ),
        source=loc.source,
        metrics=metric_specs,
    )


def _threads(value: Any, loc: _Located) -> int | None:
    threads = coerce(value, int | None, ("threads",), loc)
    if threads is not None and threads < 1:
        raise loc.error(("threads",), f"expected a positive integer, got {threads}")
    return threads


def _lookup(registry: Registry, name: Any, path: tuple[str, ...], loc: _Located) -> Any:
    if not isinstance(name, str):
        raise loc.error(path, f"expected a name, got {name!r}")
    try:
        return registry.get(name)
    except UnknownNameError as err:
        raise loc.error(path, str(err)) from err


def _build_system(data: Any, loc: _Located, systems: Registry) -> SystemSpec:
    path = ("system",)
    if not isinstance(data, dict):
        raise loc.error(path, f"expected a mapping, got {data!r}")
    allowed = {"family", "variants", "reference", "bounds", "options"}
    for key in data:
        if key not in allowed:
            raise unknown_key(loc, path, key, allowed)
    if "family" not in data:
        raise loc.error(path, "missing required key 'family'")
    family = _lookup(systems, data["family"], (*path, "family"), loc)
    raw = data.get("variants", list(family.variants))
    if isinstance(raw, list):
        for i, v in enumerate(raw):
            check_name(v, "variant", (*path, "variants", str(i)), loc)
        variant_options = {v: {} for v in raw}
    elif isinstance(raw, dict):
        variant_options = {k: (v or {}) for k, v in raw.items()}
    else:
        raise loc.error((*path, "variants"), f"expected a list or mapping, got {raw!r}")
    for v in variant_options:
        check_name(v, "variant", (*path, "variants", v), loc)
        if v not in family.variants:
            reg = Registry(f"variant of {family.name}")
            for name in family.variants:
                reg.add(name, name)
            raise loc.error((*path, "variants", v), reg.unknown_message(v))
    if not variant_options:
        raise loc.error((*path, "variants"), "at least one variant is needed")
    reference = data.get("reference", family.reference)
    check_name(reference, "variant", (*path, "reference"), loc)
    if reference not in variant_options:
        raise loc.error(
            (*path, "reference"),
            f"reference variant {reference!r} is not among the variants ({', '.join(variant_options)})",
        )
    default = [v for v in getattr(family, "bounds", ()) if v in variant_options and v != reference]
    bounds = data.get("bounds", default)
    if not isinstance(bounds, list) or not all(isinstance(b, str) for b in bounds):
        raise loc.error((*path, "bounds"), f"expected a list of variant names, got {bounds!r}")
    for b in bounds:
        if b not in variant_options or b == reference:
            raise loc.error(
                (*path, "bounds"),
                f"bound {b!r} must be one of the variants other than the reference "
                f"({', '.join(v for v in variant_options if v != reference)})",
            )
    base = data.get("options") or {}
    options = build_dataclass(family.Options, base, (*path, "options"), loc)
    resolved = {}
    for v, overrides in variant_options.items():
        if not isinstance(overrides, dict):
            raise loc.error(
                (*path, "variants", v), f"expected a mapping of options, got {overrides!r}"
            )
        if overrides:  # per-variant overrides of the family options, validated the same way
            resolved[v] = build_dataclass(
                family.Options, {**base, **overrides}, (*path, "variants", v), loc
            )
    return SystemSpec(
        family=data["family"],
        variants=tuple(variant_options),
        reference=reference,
        options=options,
        variant_options=variant_options,
        resolved=resolved,
        bounds=tuple(bounds),
    )


def _build_suites(
    data: Any, loc: _Located, suites: Registry, system: SystemSpec
) -> tuple[SuiteSpec, ...]:
    path = ("suites",)
    if not isinstance(data, dict) or not data:
        raise loc.error(path, "expected a non-empty mapping of suite name -> parameters")
    specs = []
    for name, params in data.items():
        check_name(name, "suite", (*path, name), loc)
        if params is not None and not isinstance(params, dict):
            raise loc.error((*path, name), f"expected a mapping of parameters, got {params!r}")
        params = dict(params or {})
        kind = params.pop("suite", name)
        allow_errors = coerce(
            params.pop("allow_errors", False), bool, (*path, name, "allow_errors"), loc
        )
        suite_cls = _lookup(
            suites, kind, (*path, name, "suite") if kind != name else (*path, name), loc
        )
        variants = params.pop("variants", None)
        if variants is None:
            chosen = system.variants
        else:
            if isinstance(variants, list):
                for i, v in enumerate(variants):
                    check_name(v, "variant", (*path, name, "variants", str(i)), loc)
            chosen = tuple(coerce(variants, list[str], (*path, name, "variants"), loc))
            for v in chosen:
                if v not in system.variants:
                    raise loc.error(
                        (*path, name, "variants"),
                        f"variant {v!r} is not in system.variants ({', '.join(system.variants)})",
                    )
        cfg = build_dataclass(suite_cls.Config, params, (*path, name), loc)
        specs.append(
            SuiteSpec(name=name, params=cfg, variants=chosen, kind=kind, allow_errors=allow_errors)
        )
    return tuple(specs)


_IMAGE_CAPABILITIES = ("generate", "edit")  # suites whose records carry output.image


def _build_metrics(
    data: Any,
    loc: _Located,
    metrics: Registry,
    suites: Registry,
    suite_specs: tuple[SuiteSpec, ...],
) -> tuple[MetricSpec, ...]:
    path = ("metrics",)
    if not isinstance(data, dict):
        raise loc.error(path, f"expected a mapping of metric name -> options, got {data!r}")
    image_suites = [
        s.name
        for s in suite_specs
        if getattr(suites.get(s.kind), "capability", None) in _IMAGE_CAPABILITIES
    ]
    specs = []
    for name, params in data.items():
        check_name(name, "metric", (*path, name), loc)
        if params is not None and not isinstance(params, dict):
            raise loc.error((*path, name), f"expected a mapping of options, got {params!r}")
        params = dict(params or {})
        kind = params.pop("metric", name)
        metric_cls = _lookup(
            metrics, kind, (*path, name, "metric") if kind != name else (*path, name), loc
        )
        chosen = params.pop("suites", None)
        if chosen is None:
            chosen = tuple(image_suites)
            if not chosen:
                raise loc.error((*path, name), "no image suite (geneval, gedit ...) to score")
        else:
            chosen = tuple(coerce(chosen, list[str], (*path, name, "suites"), loc))
            for s in chosen:
                if s not in image_suites:
                    raise loc.error(
                        (*path, name, "suites"),
                        f"{s!r} is not an image suite of this config "
                        f"(image suites: {', '.join(image_suites) or 'none'})",
                    )
        opts = build_dataclass(metric_cls.Options, params, (*path, name), loc)
        specs.append(MetricSpec(name=name, params=opts, suites=chosen, kind=kind))
    return tuple(specs)

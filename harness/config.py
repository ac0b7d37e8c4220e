"""Run configuration: a YAML file validated against typed dataclasses.

A config names one system family with the variants to compare, and the suites with their
parameters. Every key is checked: an unknown key, an unknown system or suite, or a value of
the wrong type is a :class:`ConfigError` naming the file, the line and the key.

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

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from .registry import Registry, UnknownNameError
from .textio import InputFileError, read_utf8


class ConfigError(ValueError):
    """A problem in a config file; the message names file, line and key."""


@dataclass(frozen=True)
class SystemSpec:
    """The family under test and the variants to compare."""

    family: str
    variants: tuple[str, ...]
    reference: str
    options: Any  # the family's Options dataclass instance
    variant_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)  # variant -> Options with overrides
    bounds: tuple[str, ...] = ()  # oracles / upper bounds: quality rows only (DESIGN.md roles)

    def role(self, variant: str) -> str:
        """``reference``, ``bound`` or ``candidate`` (DESIGN.md, "Variant roles")."""
        if variant == self.reference:
            return "reference"
        return "bound" if variant in self.bounds else "candidate"

    def options_for(self, variant: str) -> Any:
        """The family options of one variant (``options`` with that variant's overrides)."""
        return self.resolved.get(variant, self.options)


@dataclass(frozen=True)
class SuiteSpec:
    """One suite instance, its validated parameters and the variants it runs.

    ``name`` is the instance's key in the config (records and scores use it); ``kind`` is
    the registered suite it instantiates (``suite:`` in the config, default: the key), so
    one suite can run twice with different parameters.
    """

    name: str
    params: Any  # the suite's Config dataclass instance
    variants: tuple[str, ...]
    kind: str = ""
    allow_errors: bool = False  # a run whose every sample of this suite failed still passes

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", self.name)


@dataclass(frozen=True)
class MetricSpec:
    """One image metric of the post-pass, its validated options and the suites it scores.

    ``name`` is the metric's key in the config (the per-sample value is recorded under it);
    ``kind`` is the registered metric (``metric:`` in the config, default: the key).
    """

    name: str
    params: Any  # the metric's Options dataclass instance
    suites: tuple[str, ...]
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", self.name)


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration."""

    system: SystemSpec
    suites: tuple[SuiteSpec, ...]
    out: str | None = None
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    seed: int = 0
    kernels: Literal["auto", "triton", "reference"] = "auto"
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    count_flops: bool = False  # record cost.flops per sample (not in timing suites)
    source: str = "<memory>"
    metrics: tuple[MetricSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able resolved config (every default filled in)."""
        out = {
            "out": self.out,
            "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed,
            "kernels": self.kernels,
            "threads": self.threads,
            "count_flops": self.count_flops,
            "system": {
                "family": self.system.family,
                "reference": self.system.reference,
                "bounds": list(self.system.bounds),
                "variants": list(self.system.variants),
                "options": _jsonable(self.system.options),
                "variant_options": self.system.variant_options,
            },
            "suites": {
                s.name: {
                    "suite": s.kind,
                    **_jsonable(s.params),
                    "variants": list(s.variants),
                    **({"allow_errors": True} if s.allow_errors else {}),
                }
                for s in self.suites
            },
        }
        if self.metrics:
            out["metrics"] = {
                m.name: {"metric": m.kind, **_jsonable(m.params), "suites": list(m.suites)}
                for m in self.metrics
            }
        return out


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ------------------------------------------------------------------ YAML with line numbers


class _Located:
    """A parsed YAML value with the line of every key path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[tuple[str, ...], int] = {}
        self.nodes = 0

    def where(self, path: tuple[str, ...]) -> str:
        while path and path not in self.lines:
            path = path[:-1]
        line = self.lines.get(path)
        return f"{self.source}:{line}" if line else self.source

    def error(self, path: tuple[str, ...], message: str) -> ConfigError:
        key = ".".join(path) if path else "<top level>"
        return ConfigError(f"{self.where(path)}: {key}: {message}")


MAX_NODES = 100_000  # a config is a few hundred nodes; this bounds any YAML expansion
MAX_INT = 2**53  # integers beyond this are not counts, seeds or sizes (and not exact in JSON)
# Names that become folders and record keys: suite instances, metrics, variants.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=@-]{0,99}")


def check_name(value: Any, what: str, path: tuple[str, ...], loc: _Located) -> str:
    """A suite, metric or variant name: a plain string usable as one folder name."""
    if not isinstance(value, str):
        hint = " (YAML reads yes/no/on/off/true/false unquoted as booleans: quote it)"
        raise loc.error(
            path, f"{what} names must be strings, got {value!r}" + hint * isinstance(value, bool)
        )
    if not NAME_RE.fullmatch(value) or ".." in value:
        raise loc.error(
            path,
            f"{what} name {value!r} is not allowed: use letters, digits and _ . + = @ - "
            "(no path separators, no '..', not absolute, at most 100 characters)",
        )
    return value


def _to_python(node: yaml.Node, path: tuple[str, ...], loc: _Located) -> Any:
    loc.nodes += 1
    if loc.nodes > MAX_NODES:
        raise loc.error(path, f"config has more than {MAX_NODES} YAML nodes")
    loc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise ConfigError(
                    f"{loc.source}:{k.start_mark.line + 1}: keys must be plain scalars"
                )
            key = _scalar(k)
            # Keys are names; a YAML boolean/null key (``yes:``, ``on:``) stays a bool/None
            # so name checks can refuse it, everything else keeps its text.
            key = key if isinstance(key, bool) or key is None else k.value
            if not isinstance(key, str):
                raise ConfigError(
                    f"{loc.source}:{k.start_mark.line + 1}: {'.'.join(path) or '<top level>'}: "
                    f"key {k.value!r} reads as {key!r}: names must be strings (quote it)"
                )
            if key in out:
                raise ConfigError(f"{loc.source}:{k.start_mark.line + 1}: duplicate key {key!r}")
            loc.lines[(*path, key)] = k.start_mark.line + 1
            out[key] = _to_python(v, (*path, key), loc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, (*path, str(i)), loc) for i, v in enumerate(node.value)]
    value = _scalar(node)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise loc.error(path, f"integer {node.value} is out of range (at most 2**53)")
    return value


def _scalar(node: yaml.Node) -> Any:
    """The value of a scalar node as the safe loader resolves it."""
    try:
        return _SCALAR_LOADER.construct_object(node, deep=True)
    finally:
        _SCALAR_LOADER.constructed_objects.clear()  # the loader would keep every node


_SCALAR_LOADER = yaml.SafeLoader("")


def _reject_aliases(text: str, source: str) -> None:
    """Refuse anchors and aliases: a config has no need of them and they allow YAML bombs."""
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.AliasToken, yaml.AnchorToken)):
                raise ConfigError(
                    f"{source}:{token.start_mark.line + 1}: YAML anchors and aliases "
                    "(&name, *name) are not allowed in a config"
                )
    except yaml.YAMLError:
        return  # compose reports the syntax error with its line


def parse_yaml(text: str, source: str) -> tuple[Any, _Located]:
    """Parse YAML text, keeping the line of every key (anchors and aliases are refused)."""
    loc = _Located(source)
    _reject_aliases(text, source)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{source}{line}: not valid YAML: {problem}") from err
    if node is None:
        return {}, loc
    return _to_python(node, (), loc), loc


# ------------------------------------------------------------------ typed validation


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, path: tuple[str, ...], loc: _Located) -> Any:
    """Check ``value`` against the annotation ``tp``; returns the converted value."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, path, loc)
            except ConfigError as err:
                errors.append(str(err))
        raise loc.error(path, f"expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise loc.error(path, f"expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise loc.error(path, f"expected a list, got {value!r}")
        item_tp = args[0] if args else Any
        items = [coerce(v, item_tp, (*path, str(i)), loc) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise loc.error(path, f"expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {k: coerce(v, vt, (*path, k), loc) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, path, loc)
    if tp is bool:
        if not isinstance(value, bool):
            raise loc.error(path, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise loc.error(path, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise loc.error(path, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise loc.error(path, f"expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str):
            raise loc.error(path, f"expected a path string, got {value!r}")
        return Path(value)
    return value


def unknown_key(
    loc: _Located, path: tuple[str, ...], key: str, allowed: typing.Iterable[str]
) -> ConfigError:
    """The error for an unknown key at any level: a did-you-mean and the allowed keys."""
    import difflib

    allowed = sorted(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return loc.error((*path, key), f"unknown key.{hint} Allowed: {', '.join(allowed)}")


def build_dataclass(cls: type, values: Any, path: tuple[str, ...], loc: _Located) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, rejecting unknown keys."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise loc.error(path, f"expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise unknown_key(loc, path, unknown[0], fields)
    kwargs = {k: coerce(v, hints[k], (*path, k), loc) for k, v in values.items()}
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    ]
    if missing:
        raise loc.error(path, f"missing required key(s): {', '.join(missing)}")
    try:
        obj = cls(**kwargs)
    except (ValueError, TypeError) as err:
        raise loc.error(path, str(err)) from err
    return obj


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

"""Located YAML parsing for run configs: plain data plus the line of every key path.

Anchors and aliases are refused and the node count is bounded, so a config cannot expand
into a YAML bomb; :class:`ConfigError` messages name the file, the line and the key.
"""

from __future__ import annotations

from typing import Any

import yaml


class ConfigError(ValueError):
    """A problem in a config file; the message names file, line and key."""


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

"""The import direction of DESIGN.md's layers, read from the source with ``ast``.

Counts eager imports (``import``/``from``) and lazy ``"hbench.<layer>...:attr"`` registry
placeholders between the layers. Any edge not in ``ALLOWED`` fails, so the house stays as
drawn; ``KNOWN_DEBT`` lists the edges the pending redesign (issue #24) removes, one by one.
Run with ``-s`` to print the edges and their counts.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("hbench", "harness", "worlds", "tasks", "baselines", "kernels", "reports")

# (importer, imported): the directions DESIGN.md draws. The face (the package folder
# hbench/: CLI, built-in plugin table, gate and lm-eval front ends, kernel backend choice)
# sits on top and may import every layer; the core (harness/) imports none of them.
FACE = "hbench"
ALLOWED = {(FACE, layer) for layer in SOURCES if layer != FACE} | {
    ("tasks", "harness"),
    ("tasks", "worlds"),  # suites' shapes plugins use the world downward
    ("baselines", "harness"),
    ("baselines", "kernels"),
    ("baselines", "worlds"),  # the shapes family renders and trains on the world
    ("reports", "harness"),
}
# Edges that break the layers today, with the most references each may have; the redesign
# (issue #24) removes them. A count above its cap is new debt and fails like a new edge.
KNOWN_DEBT: dict[tuple[str, str], int] = {}
LAZY = re.compile(r"^hbench\.(\w+)(?:\.[\w.]+)?(?::\w+)?$")


def _edges() -> Counter:
    edges: Counter = Counter()
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    targets = [node.module]
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if LAZY.match(node.value) and ":" in node.value:
                        targets = [node.value.split(":")[0]]
                for target in targets:
                    parts = target.split(".")
                    if parts[0] == "hbench" and len(parts) > 1 and parts[1] in SOURCES:
                        if parts[1] != source:
                            edges[(source, parts[1])] += 1
    return edges


def test_imports_follow_the_layers():
    edges = _edges()
    for (src, dst), count in sorted(edges.items()):
        status = (
            "allowed" if (src, dst) in ALLOWED else "DEBT" if (src, dst) in KNOWN_DEBT else "NEW"
        )
        print(f"{src:10} -> {dst:10} {count:4}  {status}")
    broken = sorted(
        (edge, count)
        for edge, count in edges.items()
        if edge not in ALLOWED and count > KNOWN_DEBT.get(edge, 0)
    )
    assert not broken, f"imports against the layers of DESIGN.md: {broken}"


def test_kernels_import_nothing_of_hbench():
    assert not [e for e in _edges() if e[0] == "kernels"]


def test_the_core_imports_no_layer_above_it():
    # harness/ is the ground floor: the face wires tasks, baselines, kernels and reports in.
    assert not [e for e in _edges() if e[0] == "harness"]


def test_the_walker_sees_both_kinds_of_edges(tmp_path, monkeypatch):
    # Planted edges must be found, or the layer test above could never fail.
    fake = tmp_path / "kernels"
    fake.mkdir()
    (fake / "x.py").write_text('import hbench.reports.build\nPLUGIN = "hbench.tasks.a:B"\n')
    for name in SOURCES:
        if name != "kernels":
            (tmp_path / name).mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _edges() == Counter({("kernels", "reports"): 1, ("kernels", "tasks"): 1})


# Module-level cycles the pending redesign (issue #24) removes; any other cycle fails.
KNOWN_CYCLES: set[frozenset[str]] = set()


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    if parts[0] != "hbench":
        parts = ["hbench", *parts]
    return ".".join(parts), is_package


def _module_graph() -> dict[str, set[str]]:
    """Module -> the hbench modules it imports (eager, function-level and TYPE_CHECKING alike).

    ``from package import name`` is an edge to ``package.name`` when that is a module, else
    to ``package`` itself; relative imports resolve against the importer's package.
    """
    files = {}
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            files[_module_name(path, ROOT)] = path
    modules = {name for name, _ in files}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for (name, is_package), path in files.items():
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_no_import_cycles_among_modules():
    graph = _module_graph()
    cycles = _cycles(graph)
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} import edges")
    for cycle in cycles:
        status = "DEBT" if cycle in KNOWN_CYCLES else "NEW"
        print(f"cycle {status}: {' <-> '.join(sorted(cycle))}")
    assert not [c for c in cycles if c not in KNOWN_CYCLES], f"import cycles: {cycles}"


def test_the_cycle_finder_sees_planted_cycles(tmp_path, monkeypatch):
    # A planted cycle (relative, absolute and function-level imports) must be found.
    for name in SOURCES:
        (tmp_path / name).mkdir()
    pkg = tmp_path / "tasks" / "p"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .a import A\n")
    (pkg / "a.py").write_text("from . import b\nA = 1\n")
    (pkg / "b.py").write_text("def f():\n    from hbench.tasks.p.a import A\n")
    (pkg / "c.py").write_text("from hbench.tasks.p import a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = _module_graph()
    assert graph["hbench.tasks.p.a"] == {"hbench.tasks.p.b"}  # the package is no edge
    assert _cycles(graph) == [frozenset({"hbench.tasks.p.a", "hbench.tasks.p.b"})]

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

# (importer, imported): the directions DESIGN.md draws.
ALLOWED = {
    ("hbench", "harness"),  # the package's entry point runs the CLI
    ("tasks", "harness"),
    ("tasks", "worlds"),  # suites' shapes plugins use the world downward
    ("baselines", "harness"),
    ("baselines", "kernels"),
    ("baselines", "worlds"),  # the shapes family renders and trains on the world
    ("reports", "harness"),
}
# Edges that break the layers today, with the most references each may have; the redesign
# (issue #24) removes them. A count above its cap is new debt and fails like a new edge.
KNOWN_DEBT = {
    ("harness", "kernels"): 1,  # runner sets the kernel backend (face work inside core)
    ("harness", "reports"): 1,  # cli prints the report summary (face work inside core)
    ("harness", "tasks"): 21,  # cli and plugins name task modules (face work inside core)
    ("harness", "baselines"): 5,  # plugins name the system families (face work inside core)
}
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

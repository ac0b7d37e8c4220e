"""BAGEL's own eval/vlm functions, taken one by one from the vendored snapshot.

The official scripts import BAGEL's model code (torch, flash-attention, the checkpoint
loader) at module level, so they cannot be imported whole on a CPU machine. This helper
parses a vendored file, keeps only the named top-level functions, classes and assignments,
and executes those in a fresh namespace: the official code itself runs, nothing of it is
copied into hbench. Tracebacks point at the official file and line.

The snapshot is ``../shared/vendor/bagel-056b5fd`` beside the checkout (CI has it there), or
``$HBENCH_BAGEL_VENDOR``; tests using it skip with a reason when it is absent.
"""

from __future__ import annotations

import ast
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
VENDOR = Path(
    os.environ.get("HBENCH_BAGEL_VENDOR", REPO.parent / "shared" / "vendor" / "bagel-056b5fd")
)
VLM = "eval/vlm/eval"
needs_vendor = pytest.mark.skipif(
    not (VENDOR / VLM).is_dir(),
    reason=f"BAGEL snapshot not found at {VENDOR} (set HBENCH_BAGEL_VENDOR)",
)


def official(relpath: str, *names: str, **namespace: Any) -> dict[str, Any]:
    """The top-level definitions ``names`` of ``VENDOR/relpath``, executed alone.

    ``namespace`` supplies what those definitions use from the file's imports.
    """
    path = VENDOR / relpath
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def wanted(node: ast.stmt) -> bool:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            return node.name in names
        if isinstance(node, ast.Assign):
            return any(isinstance(t, ast.Name) and t.id in names for t in node.targets)
        return False

    body = [n for n in tree.body if wanted(n)]
    found = {n.name if not isinstance(n, ast.Assign) else n.targets[0].id for n in body}
    missing = sorted(set(names) - found)
    if missing:
        raise LookupError(f"{path}: no top-level {', '.join(missing)}")
    ns: dict[str, Any] = {"re": re, "random": random, "__name__": f"bagel_vendor.{path.stem}"}
    ns.update(namespace)
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), ns)  # noqa: S102
    return ns

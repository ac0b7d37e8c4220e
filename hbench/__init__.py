"""hbench: evaluation harness for accelerated unified multimodal models.

The layer folders (harness/, worlds/, tasks/, baselines/, kernels/, reports/) sit at the top of the
repository and install as ``hbench.<layer>``. They have no ``__init__.py`` on purpose: a
process started from the repository root has the root on ``sys.path``, and a regular package
named ``kernels`` or ``tasks`` there would shadow installed distributions of the same name
(transformers imports the ``kernels`` distribution at import time). As PEP 420 namespace
portions they never win over an installed regular package.

In an installed wheel the layers are folders inside this package and import natively. In a
source checkout (editable install, or ``python -m hbench`` from the root) they are siblings
of this folder; :class:`_SourceLayerFinder` binds exactly those six, on first import, as
``hbench.<layer>``.

The package folder is also the face: the CLI, the table of built-in plugins, the gate and
lm-eval front ends and the choice of kernel backend live here, on top of the layers; the
package init wires them into the core (:mod:`hbench.wiring`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

__version__ = "0.1.0"

LAYERS = ("harness", "worlds", "tasks", "baselines", "kernels", "reports")


class _SourceLayerFinder(importlib.abc.MetaPathFinder):
    """Finds ``hbench.<layer>`` in a checkout's sibling layer folders (as namespace packages)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix, _, layer = fullname.partition(".")
        folder = self.root / layer
        if prefix != __name__ or layer not in LAYERS or not folder.is_dir():
            return None
        spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        return spec


def _install_source_layer_finder() -> None:
    package_dir = Path(__file__).resolve().parent
    if all((package_dir / layer).is_dir() for layer in LAYERS):
        return  # an installed wheel carries the layers inside this package
    root = package_dir.parent
    for finder in sys.meta_path:
        if type(finder).__name__ == "_SourceLayerFinder" and getattr(finder, "root", None) == root:
            return
    # Ahead of setuptools' editable finder, which would want an __init__.py in each layer.
    sys.meta_path.insert(0, _SourceLayerFinder(root))


_install_source_layer_finder()


def _wire_layers() -> None:
    # After the finder: the face fills the core's registries and names the kernel backend.
    from .wiring import wire

    wire()


_wire_layers()

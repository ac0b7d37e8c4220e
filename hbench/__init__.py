"""hbench: evaluation harness for accelerated unified multimodal models.

The layer folders (harness/, tasks/, baselines/, kernels/, reports/) sit at the top of the
repository and install as ``hbench.<layer>``. They have no ``__init__.py`` on purpose: a
process started from the repository root has the root on ``sys.path``, and a regular package
named ``kernels`` or ``tasks`` there would shadow installed distributions of the same name
(transformers imports the ``kernels`` distribution at import time). As PEP 420 namespace
portions they never win over an installed regular package.

In an installed wheel the layers are folders inside this package and import natively. In a
source checkout (editable install, or ``python -m hbench`` from the root) they are siblings
of this folder; :func:`_bind_source_layers` binds exactly those five as ``hbench.<layer>``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

__version__ = "0.1.0"

LAYERS = ("harness", "tasks", "baselines", "kernels", "reports")


def _bind_source_layers() -> None:
    """Register the checkout's sibling layer folders as namespace packages ``hbench.<layer>``."""
    package_dir = Path(__file__).resolve().parent
    root = package_dir.parent
    for layer in LAYERS:
        name = f"{__name__}.{layer}"
        if name in sys.modules or (package_dir / layer).is_dir():
            continue  # already bound, or an installed wheel that carries the layer inside
        folder = root / layer
        if not folder.is_dir():
            continue
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        setattr(sys.modules[__name__], layer, module)


_bind_source_layers()

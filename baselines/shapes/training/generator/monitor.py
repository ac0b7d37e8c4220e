"""Training-time MONITOR of the shapes generator (not the reported benchmark).

A straightforward GenEval-style check on shapes prompts with the world's exact detector,
plus edit success with the world's exact edit checker. The official-rule scorer lives in
``hbench.tasks.geneval``; numbers from this module are for monitoring training only.

Run::

    python -m hbench.baselines.shapes.training.generator.monitor --kind teacher --n-per-tag 16 --n-edits 8
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hbench.worlds.geneval import relative_position
from hbench.worlds.shapes import EDIT_KINDS, TAGS, check_edit, detect, render, sample_edit
from hbench.worlds.shapes.geneval_format import shapes_metadata_set

POSITION_THRESHOLD = 0.1


def geneval_check(meta: dict, image: np.ndarray) -> tuple[bool, int]:
    """(correct, extra objects) for one record: include >= count, exclude, colour, position."""
    thr = 0.9 if meta["tag"] == "counting" else 0.3
    dets = {k: [d for d in v if d.score >= thr][:16] for k, v in detect(image).items()}
    groups: list[list] = []
    ok = True
    for req in meta["include"]:
        found = dets.get(req["class"], [])
        if len(found) < req["count"]:
            ok = False
            groups.append([])
            continue
        top = found[: req["count"]]
        if "color" in req and any(d.color != req["color"] for d in top):
            ok = False
        if "position" in req:
            rel, ref = req["position"]
            if not groups[ref]:
                ok = False
            for d in top:
                for r in groups[ref]:
                    if rel not in relative_position(d.box, r.box, POSITION_THRESHOLD):
                        ok = False
        groups.append(top)
    for req in meta.get("exclude", []):
        if len(dets.get(req["class"], [])) >= req["count"]:
            ok = False
    expected = sum(r["count"] for r in meta["include"])
    extra = max(0, sum(len(v) for v in dets.values()) - expected)
    return ok, extra


def run_monitor(
    engine,
    n_per_tag: int,
    n_edits: int,
    seed: int = 1234,
    batch: int = 32,
    dump: Path | None = None,
) -> dict:
    """GenEval-style per-tag accuracy and edit success per kind for a loaded engine."""
    metas = shapes_metadata_set(n_per_tag, seed)
    images: list[np.ndarray] = []
    for i in range(0, len(metas), batch):
        chunk = metas[i : i + batch]
        images += engine.generate_batch(
            [m["prompt"] for m in chunk], [seed + i + j for j in range(len(chunk))]
        )
    if dump is not None:
        write_geneval_layout(dump, metas, images)
    per_tag: dict[str, list[bool]] = {t: [] for t in TAGS}
    extras, items = [], []
    for m, img in zip(metas, images, strict=True):
        ok, extra = geneval_check(m, img)
        per_tag[m["tag"]].append(ok)
        extras.append(extra)
        items.append(ok)
    out = {f"geneval/{t}": float(np.mean(v)) for t, v in per_tag.items() if v}
    out["geneval/overall"] = float(
        np.mean([out[f"geneval/{t}"] for t in TAGS if f"geneval/{t}" in out])
    )
    out["geneval/extra_objects"] = float(np.mean(extras))
    rng = np.random.default_rng(seed)
    edits = [sample_edit(rng, k) for k in EDIT_KINDS for _ in range(n_edits)]
    results = []
    for i in range(0, len(edits), batch):
        chunk = edits[i : i + batch]
        results += engine.edit_batch([render(e.source) for e in chunk], [e.instruction for e in chunk],
                                     [seed + i + j for j in range(len(chunk))])  # fmt: skip
    ok_by_kind: dict[str, list[bool]] = {k: [] for k in EDIT_KINDS}
    edit_items = []
    for e, img in zip(edits, results, strict=True):
        ok_by_kind[e.kind].append(check_edit(e, img).success)
        edit_items.append(ok_by_kind[e.kind][-1])
    for k, v in ok_by_kind.items():
        out[f"edit/{k}"] = float(np.mean(v))
    out["edit/success"] = float(np.mean([x for v in ok_by_kind.values() for x in v]))
    out["_items"] = {
        "geneval": [m["tag"] for m in metas],
        "geneval_ok": items,
        "edit_ok": edit_items,
    }
    return out


def write_geneval_layout(root: Path, metas: list[dict], images: list[np.ndarray]) -> None:
    """Official GenEval folders: ``NNNNN/metadata.jsonl`` and ``NNNNN/samples/0000.png``."""
    from PIL import Image

    for i, (meta, img) in enumerate(zip(metas, images, strict=True)):
        d = Path(root) / f"{i:05d}"
        (d / "samples").mkdir(parents=True, exist_ok=True)
        (d / "metadata.jsonl").write_text(json.dumps(meta) + "\n")
        Image.fromarray(img).save(d / "samples" / "0000.png")


def paired_difference(a: list[bool], b: list[bool], n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean of (b - a) over paired items with a 95% bootstrap interval."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    return {
        "mean": float(d.mean()),
        "ci95": [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))],
        "n": len(d),
    }


def main(argv: list[str] | None = None) -> int:
    """Evaluate one engine kind (optionally from a training checkpoint) and print JSON."""
    ap = argparse.ArgumentParser(
        prog="python -m hbench.baselines.shapes.training.generator.monitor"
    )
    ap.add_argument("--kind", default="teacher", help="engine kind, or several comma-separated")
    ap.add_argument("--weights-dir", type=Path, default=None)
    ap.add_argument(
        "--state", type=Path, default=None, help="training state file: use its EMA weights"
    )
    ap.add_argument("--n-per-tag", type=int, default=16)
    ap.add_argument("--n-edits", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument(
        "--set", nargs="*", default=[], help="guidance overrides, e.g. t2i.text_scale=3"
    )
    ap.add_argument("--dump", type=Path, default=None, help="write GenEval folders per kind here")
    ap.add_argument("--record", action="store_true", help="store the metrics in the manifest")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    import torch

    from hbench.baselines.shapes.generator import build_image_engine

    from .state_engine import load_from_state, override_spec

    torch.set_num_threads(1)
    results = {}
    for kind in args.kind.split(","):
        engine = build_image_engine(kind, args.weights_dir)
        if args.set:
            override_spec(engine, args.set)
        if args.state is not None:
            load_from_state(engine, args.state)
        else:
            engine.load("cpu", torch.float32)
        t0 = time.time()
        res = run_monitor(
            engine,
            args.n_per_tag,
            args.n_edits,
            args.seed,
            dump=None if args.dump is None else args.dump / kind,
        )
        res["seconds"] = round(time.time() - t0, 1)
        results[kind] = res
        if args.record and args.state is None and not args.set:
            from hbench.baselines.shapes.generator.weights import record_metrics

            shown = {k: round(v, 4) for k, v in res.items() if k.startswith(("geneval/", "edit/"))}
            record_metrics(engine.spec.weights, {f"monitor/{kind}": {
                **shown, "n_per_tag": args.n_per_tag, "n_edits_per_kind": args.n_edits, "seed": args.seed,
            }}, engine.weights_dir)  # fmt: skip
        shown = {
            k: round(v, 3) if isinstance(v, float) else v for k, v in res.items() if k != "_items"
        }
        print(json.dumps({"kind": kind, "overrides": args.set, **shown}), flush=True)
    base = next(iter(results))
    for kind, res in list(results.items())[1:]:
        diffs = {
            name: paired_difference(results[base]["_items"][key], res["_items"][key])
            for name, key in (("geneval_item", "geneval_ok"), ("edit_success", "edit_ok"))
        }
        print(json.dumps({"paired_vs": base, "kind": kind, **diffs}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The image-metrics post-pass: every configured metric over a run's recorded images.

It runs after every sample is recorded (so it never counts in timing), from the run
store alone, and can run again on a finished run (``hbench metrics``):

1. ``build_metrics`` constructs each metric and checks its weight paths, before any
   weights load (the runner calls it with the suites and systems).
2. For each metric, the records of its suites (errors excluded) give the images
   (``output.image``) and, for prompt-image metrics, the text (``output.<text_key>``).
3. Features are computed in batches on the metric's device and cached per image under
   ``RUN/cache/<metric>/<fingerprint>/``, keyed by the SHA-1 of the image file's bytes
   (content addressing: the same bytes always give the same features; the fingerprint
   covers the model, its weight files' size and mtime, and the feature options). The
   model is built only when some feature is missing, so re-scoring a finished run with a
   changed score option loads nothing.
4. Per-sample values go to ``RUN/metrics.jsonl`` (append-only; a value whose image bytes
   and settings are unchanged is not recomputed); set metrics (FID, KID) and the pass's
   bookkeeping go to ``RUN/metrics_pass.json``. Scoring merges both into scores.json
   (:mod:`hbench.harness.metric_values`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import plugins
from .images import open_rgb
from .metric_values import METRIC_VALUES, METRICS_PASS
from .store import (
    RunStoreError,
    append_jsonl,
    contained,
    read_jsonl,
    read_records,
    write_file_atomic,
)


def fingerprint(identity: Any) -> str:
    """SHA-1 of a JSON identity (sorted keys)."""
    return hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


class FeatureCache:
    """Per-image feature vectors as ``.npy`` files (no pickles), written atomically."""

    def __init__(self, root: Path, identity: Any) -> None:
        self.root = root
        self.identity = identity
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        if not path.is_file():
            self.misses += 1
            return None
        self.hits += 1
        return np.load(path, allow_pickle=False)

    def put(self, key: str, value: np.ndarray) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        ident = self.root / "identity.json"
        if not ident.exists():
            ident.write_text(json.dumps(self.identity, indent=1, sort_keys=True, default=str))
        tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, np.asarray(value), allow_pickle=False)
        tmp.replace(path)


def build_metrics(config: Any) -> dict[str, Any]:
    """Each configured metric, constructed and checked (no weights loaded)."""
    out = {}
    for spec in getattr(config, "metrics", ()):
        metric = plugins.METRICS.get(spec.kind)(spec.params)
        metric.check()
        out[spec.name] = metric
    return out


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _load_image(path: Path) -> Image.Image:
    return open_rgb(path)


def _batches(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _features(
    metric: Any, cache: FeatureCache, paths: dict[str, Path], device: str
) -> dict[str, np.ndarray]:
    """Features of every image (sha1 -> path), from the cache or computed in batches."""
    out: dict[str, np.ndarray] = {}
    missing = []
    for key, path in paths.items():
        got = cache.get(key)
        if got is None:
            missing.append((key, path))
        else:
            out[key] = got
    if missing and not metric.loaded:
        metric.load(device)
    for chunk in _batches(missing, metric.options.batch_size):
        feats = metric.image_features([_load_image(p) for _, p in chunk])
        for (key, _), f in zip(chunk, feats, strict=True):
            cache.put(key, f)
            out[key] = f
    return out


def _text_features(
    metric: Any, cache: FeatureCache, texts: set[str], device: str
) -> dict[str, np.ndarray]:
    keys = {t: "t" + hashlib.sha1(t.encode()).hexdigest() for t in sorted(texts)}
    out: dict[str, np.ndarray] = {}
    missing = []
    for text, key in keys.items():
        got = cache.get(key)
        if got is None:
            missing.append(text)
        else:
            out[text] = got
    if missing and not metric.loaded:
        metric.load(device)
    for chunk in _batches(missing, metric.options.batch_size):
        for text, f in zip(chunk, metric.text_features(chunk), strict=True):
            cache.put(keys[text], f)
            out[text] = f
    return out


@dataclasses.dataclass
class _Job:
    """One metric's inputs: its records with their images (and texts)."""

    record: dict[str, Any]
    path: Path
    sha1: str
    text: str | None = None


def _jobs(
    run_dir: Path, records: list[dict[str, Any]], suites: tuple[str, ...], stats: dict[str, int]
) -> tuple[list[_Job], list[dict[str, Any]]]:
    jobs, errors = [], []
    for rec in records:
        rel = (rec.get("output") or {}).get("image")
        if rec["suite"] not in suites or rec.get("error") or not isinstance(rel, str):
            continue
        try:
            path = contained(run_dir, rel)  # a record never makes the pass read outside the run
            jobs.append(_Job(rec, path, _sha1(path)))
        except RunStoreError as err:
            errors.append({"key": rec["key"], "error": str(err)})
        except OSError as err:
            errors.append({"key": rec["key"], "error": f"cannot read {rel}: {err.strerror}"})
    stats["images"] = len(jobs)
    return jobs, errors


def _value_identity(metric: Any, feature_identity: dict[str, Any]) -> str:
    from dataclasses import asdict

    opts = {k: v for k, v in asdict(metric.options).items() if k not in ("batch_size", "device")}
    files = {}
    for k in metric.score_options:
        v = opts.get(k)
        if isinstance(v, str) and v and Path(v).is_file():
            st_ = Path(v).stat()
            files[k] = [str(Path(v).resolve()), st_.st_size, st_.st_mtime_ns]
    return fingerprint({"features": feature_identity, "options": opts, "files": files})


def _sample_pass(
    run_dir: Path, name: str, metric: Any, jobs: list[_Job], device: str, stats: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per-sample values of the jobs not yet scored with these settings; returns new lines."""
    identity = metric.identity()
    value_fp = _value_identity(metric, identity)
    done = {
        (ln["key"], ln.get("sha1"))
        for ln in read_jsonl(run_dir / METRIC_VALUES)
        if ln.get("metric") == name and ln.get("fingerprint") == value_fp and "value" in ln
    }
    todo, lines = [], []
    keys = metric.options.text_keys if metric.needs_text else ()
    for job in jobs:
        if (job.record["key"], job.sha1) in done:
            stats["reused"] += 1
            continue
        if metric.needs_text:
            out = job.record.get("output") or {}
            job.text = next((out[k] for k in keys if isinstance(out.get(k), str)), None)
            if job.text is None:
                stats["skipped_no_text"] += 1
                continue
        todo.append(job)
    if not todo:
        return lines
    cache = FeatureCache(run_dir / "cache" / name / fingerprint(identity)[:16], identity)
    feats = _features(metric, cache, {j.sha1: j.path for j in todo}, device)
    texts = _text_features(metric, cache, {j.text for j in todo}, device) if keys else {}
    stats["cached"] += cache.hits
    for chunk in _batches(todo, 4096):
        img = np.stack([feats[j.sha1] for j in chunk])
        txt = np.stack([texts[j.text] for j in chunk]) if keys else None
        for job, v in zip(chunk, metric.score(img, txt), strict=True):
            line = {"key": job.record["key"], "metric": name, "image": job.record["output"]["image"],
                    "sha1": job.sha1, "fingerprint": value_fp}  # fmt: skip
            if np.isfinite(v):
                line["value"] = float(v)
            else:
                line["error"] = f"non-finite value {v}"
            lines.append(line)
    stats["scored"] += len(lines)
    return lines


def _set_pass(
    run_dir: Path,
    name: str,
    metric: Any,
    jobs: list[_Job],
    config: Any,
    device: str,
    stats: dict[str, Any],
) -> dict[str, Any]:
    """Per suite: each variant's set value and each variant's difference to the reference."""
    identity = metric.identity()
    cache = FeatureCache(run_dir / "cache" / name / fingerprint(identity)[:16], identity)
    ref_paths = {_sha1(p): p for p in metric.reference_images()}
    feats = _features(metric, cache, {**{j.sha1: j.path for j in jobs}, **ref_paths}, device)
    reference = np.stack([feats[k] for k in sorted(ref_paths)])
    stats.update(cached=cache.hits, reference_images=len(ref_paths))
    out: dict[str, Any] = {}
    for suite in sorted({j.record["suite"] for j in jobs}):
        by_variant: dict[str, dict[tuple[str, int], np.ndarray]] = {}
        for j in jobs:
            if j.record["suite"] == suite:
                key = (j.record["sample"], j.record["seed"])
                by_variant.setdefault(j.record["variant"], {})[key] = feats[j.sha1]
        block: dict[str, Any] = {"variants": {}, "comparisons": {}}
        for variant, rows in sorted(by_variant.items()):
            if len(rows) >= 2:
                block["variants"][variant] = {
                    name: metric.set_value(np.stack(list(rows.values())), reference)
                }
        base = by_variant.get(config.system.reference, {})
        for variant, rows in sorted(by_variant.items()):
            pairs = sorted(set(base) & set(rows))
            if variant == config.system.reference or len(pairs) < 2:
                continue
            diff = metric.set_difference(np.stack([base[k] for k in pairs]),
                                         np.stack([rows[k] for k in pairs]), reference)  # fmt: skip
            diff["reference"] = config.system.reference
            block["comparisons"][variant] = {name: diff}
        out[suite] = block
    return out


def run_metrics(
    run_dir: str | Path, config: Any, metrics: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run every configured metric over the run's records; returns ``metrics_pass.json``.

    Args:
        run_dir: The run directory (records and images already there).
        config: The run config (its ``metrics``, ``device`` and reference variant).
        metrics: Metrics from :func:`build_metrics` (built here when None).
    """
    run_dir = Path(run_dir)
    metrics = build_metrics(config) if metrics is None else metrics
    records = read_records(run_dir)
    info: dict[str, Any] = {"metrics": {}, "suites": {}}
    for spec in config.metrics:
        metric = metrics[spec.name]
        device = metric.options.device or config.device
        start = time.perf_counter()
        stats: dict[str, Any] = {"reused": 0, "cached": 0, "scored": 0, "skipped_no_text": 0}
        jobs, errors = _jobs(run_dir, records, spec.suites, stats)
        if metric.kind == "sample":
            lines = _sample_pass(run_dir, spec.name, metric, jobs, device, stats)
            lines += [{**e, "metric": spec.name} for e in errors]
            # The store's writer: a torn last line is cut (even when nothing is new).
            append_jsonl(run_dir / METRIC_VALUES, lines)
        else:
            for suite, block in _set_pass(
                run_dir, spec.name, metric, jobs, config, device, stats
            ).items():
                mine = info["suites"].setdefault(suite, {"variants": {}, "comparisons": {}})
                for part in ("variants", "comparisons"):
                    for variant, vals in block[part].items():
                        mine[part].setdefault(variant, {}).update(vals)
        stats.update(
            kind=metric.kind, metric=spec.kind, suites=list(spec.suites), errors=len(errors),
            higher_is_better=metric.higher_is_better, description=metric.description,
            fingerprint=fingerprint(metric.identity())[:16], device=device,
            seconds=round(time.perf_counter() - start, 3),
        )  # fmt: skip
        info["metrics"][spec.name] = stats
    text = json.dumps(info, indent=2, sort_keys=True) + "\n"
    write_file_atomic(run_dir / METRICS_PASS, text.encode("utf-8"))
    return info

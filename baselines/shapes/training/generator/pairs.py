"""Teacher-trajectory pairs for the 1-step student: (noise, condition) -> the teacher's sample.

The pool is drawn once with a given sampler (the distillation script passes the full
baseline sampler: 50 timesteps, BAGEL-style CFG, 98 NFE for T2I rows and 147 for edit
rows), batched so that a pair costs a fraction of a batch-1 sample, and saved in chunks to
``pairs.safetensors`` so an interrupted run resumes where it stopped. Each chunk is seeded
from ``(seed, chunk)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from hbench.baselines.shapes.generator.tokens import WordTokenizer

from .data import make_batch

# (noise, source, is_edit, tokens) -> the sampler's x0 from that noise.
Sampler = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def teacher_pairs(
    sample: Sampler, path: Path, n: int, seed: int, chunk: int = 64
) -> dict[str, torch.Tensor]:
    """``n`` pairs (noise, source, tokens, is_edit, x0), computed or resumed from ``path``.

    Raises:
        ValueError: ``path`` holds pairs drawn with a different chunk size.
    """
    tok = WordTokenizer()
    have: dict[str, torch.Tensor] = load_file(str(path)) if path.exists() else {}
    if have and int(have["chunk"]) != chunk:
        raise ValueError(f"{path}: pairs were drawn with chunk {int(have['chunk'])}, not {chunk}")
    done = int(have["noise"].shape[0]) if have else 0
    t0 = time.time()
    while done < n:
        c = done // chunk
        rng = np.random.default_rng([seed, 10_000 + c])
        g = torch.Generator().manual_seed(seed * 1_000_003 + 10_000 + c)
        batch = make_batch(rng, chunk)
        tokens = tok.batch(batch.texts)
        noise = torch.randn(batch.target.shape, generator=g)
        x0 = sample(noise, batch.source, batch.is_edit, tokens)
        new = {"noise": noise, "source": batch.source, "tokens": tokens,
               "is_edit": batch.is_edit.to(torch.uint8), "x0": x0}  # fmt: skip
        have = new if not have else {k: _cat(have[k], v) for k, v in new.items()}
        have["chunk"] = torch.tensor(chunk)
        save_file({k: v.contiguous() for k, v in have.items()}, str(path))
        done += chunk
        print(f"teacher pairs {done}/{n} ({time.time() - t0:.0f} s)", flush=True)
    return {k: v[:n] for k, v in have.items() if k != "chunk"}


def _cat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.shape[1:] != b.shape[1:]:  # token rows padded to different lengths
        width = max(a.shape[1], b.shape[1])
        a, b = (torch.nn.functional.pad(x, (0, width - x.shape[1])) for x in (a, b))
    return torch.cat([a, b])

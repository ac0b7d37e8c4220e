"""The microbenchmark's shape sweep: realistic BAGEL-7B shapes, inputs and bytes moved.

BAGEL-7B-MoT generates a 1024x1024 image as 64x64 = 4096 latent tokens of 64 channels
(16 VAE channels x 2x2 patch) through a Qwen2-7B backbone: hidden 3584, 28 query heads,
4 key/value heads, head_dim 128, vocabulary 152064. Classifier-free guidance runs 2
branches for text-to-image and 3 for editing. ``bytes_min`` counts each input read once
and each output written once (the effective bandwidth of a perfect fused kernel);
``bytes_kernel`` what our kernel actually moves where that is more (``global`` renorm
re-reads its inputs in a second pass).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import cfg, rmsnorm, rope, verify, verify_sampling

TOKENS, HIDDEN, HEADS_Q, HEADS_KV, HEAD_DIM, VOCAB, LATENT_C = 4096, 3584, 28, 4, 128, 152064, 64


@dataclass
class Prepared:
    """One benchmark instance: the op and its reference take the same arguments."""

    op: Callable
    reference: Callable
    args: tuple
    kwargs: dict = field(default_factory=dict)
    bytes_min: int = 0
    bytes_kernel: int = 0
    inplace: bool = False  # the op writes into args (rope): checks run on clones

    def fresh_args(self) -> tuple:
        """Arguments to check with (clones when the op works in place)."""
        if not self.inplace:
            return self.args
        return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in self.args)


@dataclass(frozen=True)
class BenchCase:
    """A named shape of one op; ``build(device, dtype, generator)`` makes its inputs."""

    op: str
    label: str
    build: Callable[[str, torch.dtype, torch.Generator], Prepared]


def _randn(shape, gen, dtype, device) -> torch.Tensor:
    # Drawn on the CPU generator, then moved: same numbers on every device.
    return torch.randn(shape, generator=gen).to(device=device, dtype=dtype)


def _es(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _rmsnorm(rows: int, cols: int, residual: bool) -> Callable:
    def build(device: str, dtype: torch.dtype, gen: torch.Generator) -> Prepared:
        x = _randn((rows, cols), gen, dtype, device)
        w = (1 + 0.1 * _randn((cols,), gen, torch.float32, device)).to(dtype)
        n = rows * cols * _es(dtype)
        if not residual:
            return Prepared(rmsnorm.rmsnorm, rmsnorm.rmsnorm_reference, (x, w, 1e-6), {}, 2 * n)
        r = _randn((rows, cols), gen, dtype, device)
        return Prepared(
            rmsnorm.fused_add_rmsnorm,
            rmsnorm.fused_add_rmsnorm_reference,
            (x, r, w, 1e-6),
            {},
            4 * n,
        )

    return build


def _cfg(shape: tuple, mode: str, branches: int, per_sample: bool = False) -> Callable:
    def build(device: str, dtype: torch.dtype, gen: torch.Generator) -> Prepared:
        c, t, u = (_randn(shape, gen, dtype, device) for _ in range(3))
        img_scale = 1.5 if branches == 3 else 1.0
        args = (c, t, u if branches == 3 else None, 4.0, img_scale, mode, 0.0, True, per_sample)
        n = c.numel() * _es(dtype)
        bytes_min = (branches + 1) * n
        bytes_kernel = (2 * branches + 1) * n if mode == "global" else bytes_min
        return Prepared(
            cfg.cfg_combine, cfg.cfg_combine_reference, args, {}, bytes_min, bytes_kernel
        )

    return build


def _rope(tokens: int) -> Callable:
    def build(device: str, dtype: torch.dtype, gen: torch.Generator) -> Prepared:
        q = _randn((tokens, HEADS_Q, HEAD_DIM), gen, dtype, device)
        k = _randn((tokens, HEADS_KV, HEAD_DIM), gen, dtype, device)
        pos = torch.arange(tokens, device=device, dtype=torch.float32)
        inv = 1e6 ** (-torch.arange(0, HEAD_DIM, 2, device=device, dtype=torch.float32) / HEAD_DIM)
        ang = torch.outer(pos, inv).repeat(1, 2)  # Qwen2: cat(freqs, freqs)
        cos, sin = ang.cos().to(dtype), ang.sin().to(dtype)
        n = (q.numel() + k.numel()) * _es(dtype) * 2 + 2 * cos.numel() * _es(dtype)
        return Prepared(
            rope.apply_rope_, rope.rope_reference, (q, k, cos, sin), {}, n, inplace=True
        )

    return build


def _greedy(k: int, vocab: int) -> Callable:
    def build(device: str, dtype: torch.dtype, gen: torch.Generator) -> Prepared:
        logits = _randn((k + 1, vocab), gen, dtype, device)
        draft = logits[:k].float().argmax(-1)
        draft[k // 2] = (draft[k // 2] + 1) % vocab  # reject half-way: a typical step
        n = logits.numel() * _es(dtype)
        return Prepared(
            verify.verify_greedy, verify.verify_greedy_reference, (draft, logits), {}, n
        )

    return build


def _sampling(k: int, vocab: int) -> Callable:
    def build(device: str, dtype: torch.dtype, gen: torch.Generator) -> Prepared:
        q = torch.softmax(_randn((k, vocab), gen, torch.float32, device), -1)
        p = torch.softmax(_randn((k + 1, vocab), gen, torch.float32, device), -1)
        draft = torch.multinomial(q.cpu(), 1, generator=gen).squeeze(1).to(device)
        u = torch.rand((k,), generator=gen).to(device)
        # Reads two probability rows, writes the result; the normalise pass re-reads it.
        return Prepared(
            verify_sampling.verify_sampling,
            verify_sampling.verify_sampling_reference,
            (draft, q, p, u),
            {},
            3 * vocab * 4,
            5 * vocab * 4,
        )

    return build


def bagel_cases() -> list[BenchCase]:
    """The realistic sweep run on a GPU."""
    out: list[BenchCase] = []
    for branches in (1, 2, 3):  # CFG branches batched through the backbone
        rows = branches * TOKENS
        for res in (False, True):
            name = "fused_add_rmsnorm" if res else "rmsnorm"
            out.append(BenchCase(name, f"{rows}x{HIDDEN}", _rmsnorm(rows, HIDDEN, res)))
    out.append(
        BenchCase(
            "rmsnorm",
            f"qk_norm:{TOKENS * HEADS_Q}x{HEAD_DIM}",
            _rmsnorm(TOKENS * HEADS_Q, HEAD_DIM, False),
        )
    )
    for mode in cfg.RENORM_MODES:
        for branches, task in ((2, "t2i"), (3, "edit")):
            out.append(
                BenchCase(
                    "cfg_combine",
                    f"{task}:{mode}:{TOKENS}x{LATENT_C}",
                    _cfg((TOKENS, LATENT_C), mode, branches),
                )
            )
        out.append(
            BenchCase(
                "cfg_combine", f"edit:{mode}:{TOKENS}x{HIDDEN}", _cfg((TOKENS, HIDDEN), mode, 3)
            )
        )
    out.append(
        BenchCase(
            "cfg_combine",
            f"t2i:global:4x{TOKENS}x{LATENT_C}:per_sample",
            _cfg((4, TOKENS, LATENT_C), "global", 2, True),
        )
    )
    for branches in (1, 3):
        out.append(
            BenchCase(
                "rope",
                f"{branches * TOKENS}x({HEADS_Q}+{HEADS_KV})x{HEAD_DIM}",
                _rope(branches * TOKENS),
            )
        )
    for k in (4, 8):
        out.append(BenchCase("verify_greedy", f"k={k}:V={VOCAB}", _greedy(k, VOCAB)))
        out.append(BenchCase("verify_sampling", f"k={k}:V={VOCAB}", _sampling(k, VOCAB)))
    return out


def tiny_cases() -> list[BenchCase]:
    """A miniature of the sweep for the CPU self-test of the pipeline (interpreter)."""
    return [
        BenchCase("rmsnorm", "5x96", _rmsnorm(5, 96, False)),
        BenchCase("fused_add_rmsnorm", "5x96", _rmsnorm(5, 96, True)),
        BenchCase("cfg_combine", "edit:global:6x64", _cfg((6, 64), "global", 3)),
        BenchCase("cfg_combine", "t2i:text_channel:6x64", _cfg((6, 64), "text_channel", 2)),
        BenchCase("rope", "3x(28+4)x128", _rope(3)),
        BenchCase("verify_greedy", "k=3:V=300", _greedy(3, 300)),
        BenchCase("verify_sampling", "k=3:V=300", _sampling(3, 300)),
    ]

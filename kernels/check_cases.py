"""The case grid of the kernel checks: every op's dtypes, shapes and modes (small shapes).

:mod:`.checks` runs each case against the op's reference; the tests parametrize over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from . import cfg

DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


@dataclass(frozen=True)
class Case:
    """One check: an op, a dtype and the op's parameters (shapes, modes)."""

    op: str
    dtype: torch.dtype
    params: dict = field(hash=False, compare=False)

    @property
    def id(self) -> str:
        """A readable, stable id (pytest ids, seeds, reports)."""
        parts = [f"{k}={_fmt(v)}" for k, v in sorted(self.params.items())]
        return f"{self.op}[{DTYPE_NAMES[self.dtype]},{','.join(parts)}]"


def _fmt(v: object) -> str:
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)


def _rmsnorm_cases() -> list[Case]:
    shapes = [(1, 7), (13, 96), (3, 5, 200), (2, 5000)]  # single row, odd rows, 3-D, wide
    out = [
        Case("rmsnorm", dt, {"shape": s, "residual": res})
        for dt in (torch.float32, torch.bfloat16)
        for s in shapes
        for res in (False, True)
    ]
    out.append(Case("rmsnorm", torch.float16, {"shape": (5, 130), "residual": True}))
    out.append(Case("rmsnorm", torch.bfloat16, {"shape": (3, 64), "weight_dtype": torch.float32}))
    return out


def _cfg_cases() -> list[Case]:
    out = []
    for dt in (torch.float32, torch.bfloat16):
        for mode in cfg.RENORM_MODES:
            for img in (1.0, 2.0):
                out.append(
                    Case(
                        "cfg_combine",
                        dt,
                        {"shape": (13, 64), "mode": mode, "img_scale": img, "renorm_min": 0.0},
                    )
                )
                out.append(
                    Case(
                        "cfg_combine",
                        dt,
                        {"shape": (1, 7), "mode": mode, "img_scale": img, "renorm_min": 0.3},
                    )
                )
            out.append(
                Case(
                    "cfg_combine",
                    dt,
                    {"shape": (2, 3000), "mode": mode, "img_scale": 1.5, "renorm_min": 0.25},
                )
            )
    f32 = torch.float32
    out += [
        Case(
            "cfg_combine",
            f32,
            {"shape": (3, 5, 100), "mode": "global", "img_scale": 2.0, "per_sample": True},
        ),
        Case("cfg_combine", f32, {"shape": (3, 5, 100), "mode": "global", "renorm_min": 0.5}),
        Case(
            "cfg_combine", f32, {"shape": (9, 64), "mode": "channel", "renorm_min": 1.5}
        ),  # min > max
        Case("cfg_combine", f32, {"shape": (9, 64), "mode": "channel", "apply_cfg": False}),
        Case(
            "cfg_combine",
            f32,
            {"shape": (9, 64), "mode": "global", "text_scale": 1.0, "img_scale": 2.0},
        ),
        Case(
            "cfg_combine",
            torch.float16,
            {"shape": (6, 48), "mode": "text_channel", "img_scale": 1.5},
        ),
        # [B, C, H, W] images (the shapes world): channel norms over dim 1, strided.
        Case(
            "cfg_combine",
            f32,
            {"shape": (2, 3, 5, 7), "mode": "channel", "img_scale": 2.0, "channel_dim": 1},
        ),
        Case(
            "cfg_combine",
            torch.bfloat16,
            {"shape": (3, 4, 3, 5), "mode": "text_channel", "renorm_min": 0.2, "channel_dim": 1},
        ),
    ]
    return out


def _rope_cases() -> list[Case]:
    shapes = [(1, 1, 1, 1, 2), (2, 5, 3, 1, 6), (1, 7, 28, 4, 128)]  # single, odd, Qwen2-7B heads
    out = [Case("rope", dt, {"bshkd": s}) for dt in (torch.float32, torch.bfloat16) for s in shapes]
    out += [
        Case("rope", torch.float32, {"bshkd": (1, 9, 4, 2, 64), "layout": "packed"}),
        Case("rope", torch.bfloat16, {"bshkd": (3, 5, 4, 2, 96), "layout": "bhsd"}),
        Case("rope", torch.float16, {"bshkd": (2, 3, 5, 3, 32)}),
    ]
    return out


def _verify_cases() -> list[Case]:
    out = []
    for dt in (torch.float32, torch.bfloat16):
        for k, vocab, bv, accept in ((4, 1000, 128, "rand"), (7, 37, 16, 2), (1, 1, None, 0)):
            out.append(
                Case("verify_greedy", dt, {"k": k, "vocab": vocab, "block_v": bv, "accept": accept})
            )
        out.append(
            Case(
                "verify_greedy",
                dt,
                {"k": 3, "vocab": 500, "block_v": 64, "accept": 3, "ties": True},
            )
        )
        out.append(
            Case(
                "verify_greedy",
                dt,
                {"k": 3, "vocab": 300, "block_v": None, "accept": 3, "ties": True},
            )
        )
    out.append(
        Case("verify_greedy", torch.float32, {"k": 0, "vocab": 50, "block_v": 16, "accept": 0})
    )
    out.append(
        Case("verify_greedy", torch.float32, {"k": 6, "vocab": 200, "block_v": 32, "accept": 6})
    )
    for dt in (torch.float32, torch.bfloat16):
        for k, vocab, bv, noise in ((4, 1000, 128, 1.0), (7, 37, 16, 0.3), (1, 5, None, 2.0)):
            out.append(
                Case("verify_sampling", dt, {"k": k, "vocab": vocab, "block_v": bv, "noise": noise})
            )
    out += [
        Case("verify_sampling", torch.float32, {"k": 0, "vocab": 50, "block_v": 16}),
        Case("verify_sampling", torch.float32, {"k": 6, "vocab": 300, "block_v": 64, "noise": 0.0}),
        Case(
            "verify_sampling",
            torch.float32,
            {"k": 3, "vocab": 100, "block_v": 32, "noise": 0.1, "oov": True},
        ),
        Case(
            "verify_sampling",
            torch.float32,
            {"k": 2, "vocab": 70, "block_v": 32, "zero_mass": True},
        ),
    ]
    return out


def cases(op: str | None = None) -> list[Case]:
    """The CPU-interpreter case grid (small shapes), optionally for one op."""
    grid = _rmsnorm_cases() + _cfg_cases() + _rope_cases() + _verify_cases()
    return [c for c in grid if op is None or c.op == op]

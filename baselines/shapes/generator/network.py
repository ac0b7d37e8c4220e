"""The shapes generator: a small conv UNet denoiser with a word encoder and cross-attention.

Input channels: the noisy image (3), the source image for editing (3; zeros for
text-to-image, as in InstructPix2Pix) and two coordinate channels (so "left of" and
"the top right" map onto pixels). Output: the flow-matching velocity ``noise - x0``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .tokens import PAD


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of :class:`ShapesDenoiser` (stored in the weights manifest)."""

    vocab_size: int = 61
    channels: tuple[int, int, int] = (32, 64, 128)
    text_dim: int = 128
    text_layers: int = 2
    heads: int = 4
    max_tokens: int = 32
    # Learned 2-D position embeddings on the attention queries (and self-attention keys):
    # without them a pixel's query barely knows where it is, so "in the top right" and
    # "left of" do not map onto places. False keeps the layout of older weights.
    pos_queries: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> GeneratorConfig:
        d = dict(d)
        d["channels"] = tuple(d["channels"])
        return GeneratorConfig(**d)


@dataclass(frozen=True)
class TextContext:
    """Encoded prompt rows: word features ``(B, L, D)``, padding mask, pooled projection."""

    words: torch.Tensor
    pad: torch.Tensor
    pooled: torch.Tensor

    def select(self, index: torch.Tensor) -> TextContext:
        """Rows ``index`` of every field (for batching CFG branches)."""
        return TextContext(self.words[index], self.pad[index], self.pooled[index])


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of ``t`` in [0, 1] (scaled to [0, 1000])."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half
    )
    args = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([args.cos(), args.sin()], dim=-1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, FiLM from the condition vector in between."""

    def __init__(self, cin: int, cout: int, cond_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return h + self.skip(x)


def sincos_2d(side: int, dim: int) -> torch.Tensor:
    """``(side*side, dim)`` 2-D sine-cosine position features (half for x, half for y)."""
    quarter = dim // 4
    freqs = 1.0 / (100.0 ** (torch.arange(quarter, dtype=torch.float32) / max(1, quarter)))
    ys, xs = torch.meshgrid(
        torch.arange(side, dtype=torch.float32), torch.arange(side, dtype=torch.float32),
        indexing="ij",
    )  # fmt: skip
    ax = xs.flatten()[:, None] * freqs[None]
    ay = ys.flatten()[:, None] * freqs[None]
    out = torch.cat([ax.sin(), ax.cos(), ay.sin(), ay.cos()], dim=1)
    return F.pad(out, (0, dim - out.shape[1]))


class Attention(nn.Module):
    """Pre-norm multi-head attention of pixels over themselves or over word features.

    With ``side`` set, a learned position embedding (initialised to 2-D sine-cosine) is
    added to the queries, and to the keys when pixels attend to themselves.
    """

    def __init__(self, dim: int, kv_dim: int, heads: int, side: int | None = None) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(8, dim)
        self.attn = nn.MultiheadAttention(dim, heads, kdim=kv_dim, vdim=kv_dim, batch_first=True)
        self.pos = nn.Parameter(sincos_2d(side, dim)[None]) if side is not None else None

    def forward(
        self, x: torch.Tensor, kv: torch.Tensor | None = None, kv_pad: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, c, h, w = x.shape
        v_self = self.norm(x).flatten(2).transpose(1, 2)
        q = v_self if self.pos is None else v_self + self.pos
        if kv is None:
            out, _ = self.attn(q, q, v_self, need_weights=False)
        else:
            out, _ = self.attn(q, kv, kv, key_padding_mask=kv_pad, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class TextEncoder(nn.Module):
    """Word embeddings + learned positions + a small pre-norm transformer encoder."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.text_dim)
        self.pos = nn.Parameter(torch.randn(cfg.max_tokens, cfg.text_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.text_dim,
            cfg.heads,
            2 * cfg.text_dim,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.text_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.text_dim)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Word features ``(B, L, D)``, padding mask ``(B, L)`` and the mean-pooled vector."""
        pad = tokens == PAD
        h = self.embed(tokens) + self.pos[: tokens.shape[1]]
        h = self.norm(self.encoder(h, src_key_padding_mask=pad))
        keep = (~pad).float()[..., None]
        pooled = (h * keep).sum(1) / keep.sum(1)
        return h, pad, pooled


class ShapesDenoiser(nn.Module):
    """``forward(x_t, t, source, tokens) -> velocity``; all rows independent (CFG batches rows)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.channels
        d = cfg.text_dim
        self.text = TextEncoder(cfg)
        self.time = nn.Sequential(nn.Linear(d, 2 * d), nn.SiLU(), nn.Linear(2 * d, d))
        self.pool = nn.Linear(d, d)
        self.stem = nn.Conv2d(8, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, d)
        self.pool1 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.down2 = ResBlock(c2, c2, d)
        s16, s8 = (16, 8) if cfg.pos_queries else (None, None)  # attention grid sides
        self.xattn2 = Attention(c2, d, cfg.heads, s16)
        self.pool2 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.mid1 = ResBlock(c3, c3, d)
        self.self3 = Attention(c3, c3, cfg.heads, s8)
        self.xattn3 = Attention(c3, d, cfg.heads, s8)
        self.mid2 = ResBlock(c3, c3, d)
        # Skips are added after a 1x1 projection (cheaper on CPU than concatenation).
        self.proj2 = nn.Conv2d(c3, c2, 1)
        self.up2 = ResBlock(c2, c2, d)
        self.uxattn2 = Attention(c2, d, cfg.heads, s16)
        self.proj1 = nn.Conv2d(c2, c1, 1)
        self.up1 = ResBlock(c1, c1, d)
        self.out_norm = nn.GroupNorm(8, c1)
        self.out = nn.Conv2d(c1, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
        self.register_buffer("coords", torch.stack([xs, ys])[None], persistent=False)

    def encode_text(self, tokens: torch.Tensor) -> TextContext:
        """Word features of ``tokens`` ``(B, L)``; computed once per image, reused every step."""
        words, pad, pooled = self.text(tokens)
        return TextContext(words, pad, self.pool(pooled))

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        source: torch.Tensor,
        tokens: torch.Tensor | None = None,
        text: TextContext | None = None,
    ) -> torch.Tensor:
        """Velocity for ``x`` ``(B,3,32,32)`` at times ``t`` ``(B,)`` in [0, 1] (1 = noise).

        Pass either ``tokens`` or a precomputed ``text`` context (same rows as ``x``).
        """
        if text is None:
            if tokens is None:
                raise ValueError("ShapesDenoiser.forward needs tokens or a text context")
            text = self.encode_text(tokens)
        words, pad = text.words, text.pad
        cond = self.time(timestep_embedding(t, self.cfg.text_dim)) + text.pooled
        cond = F.silu(cond)
        h = self.stem(torch.cat([x, source, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1))
        h1 = self.down1(h, cond)
        h2 = self.xattn2(self.down2(self.pool1(h1), cond), words, pad)
        h3 = self.mid1(self.pool2(h2), cond)
        h3 = self.xattn3(self.self3(h3), words, pad)
        h3 = self.mid2(h3, cond)
        u2 = F.interpolate(self.proj2(h3), scale_factor=2.0, mode="nearest") + h2
        u2 = self.uxattn2(self.up2(u2, cond), words, pad)
        u1 = F.interpolate(self.proj1(u2), scale_factor=2.0, mode="nearest") + h1
        u1 = self.up1(u1, cond)
        return self.out(F.silu(self.out_norm(u1)))

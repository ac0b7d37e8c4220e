"""The shapes understanding target: a conv patch encoder feeding a Llama decoder.

The image becomes ``grid * grid`` prefix embeddings; the prompt follows as
``<bos> prompt <sep>`` and the answer is generated after ``<sep>``. The decoder is a plain
``transformers`` ``LlamaForCausalLM``, so ``generate(inputs_embeds=...)`` works on it and
serves as the reference decoder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from hbench.worlds.shapes import COLORS, SHAPES

AUX_PREFIXES = ("aux_shape.", "aux_color.")  # state-dict keys of the training-only probes


@dataclass(frozen=True)
class TargetConfig:
    """Sizes of the target (stored in the weights manifest)."""

    vocab_size: int
    hidden: int = 256
    layers: int = 6
    heads: int = 4
    ffn: int = 768
    max_positions: int = 96
    grid: int = 4  # image prefix is grid x grid tokens
    enc_channels: tuple[int, int, int] = (32, 64, 128)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> TargetConfig:
        d = dict(d)
        d["enc_channels"] = tuple(d["enc_channels"])
        return TargetConfig(**d)

    def llama_config(self) -> LlamaConfig:
        return LlamaConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden,
            intermediate_size=self.ffn,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.heads,
            max_position_embeddings=self.max_positions,
            tie_word_embeddings=True,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
            attn_implementation="sdpa",
        )


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.GELU())


class PatchEncoder(nn.Module):
    """32x32 RGB -> ``grid*grid`` embeddings: CoordConv CNN to 8x8, then 2x2 patch merge.

    Coordinate channels let the features carry exact positions, which captions need
    (grid cells are thirds of the image and do not align with the patches).
    """

    def __init__(self, hidden: int, grid: int = 4, channels: tuple[int, int, int] = (32, 64, 128)):
        super().__init__()
        c1, c2, c3 = channels
        self.grid = grid
        self.cnn = nn.Sequential(
            _conv(5, c1, 1), _conv(c1, c2, 2), _conv(c2, c2, 1), _conv(c2, c3, 2), _conv(c3, c3, 1)
        )
        merge = 8 // grid
        self.merge = merge
        self.proj = nn.Linear(c3 * merge * merge, hidden)
        self.pos = nn.Parameter(torch.zeros(grid * grid, hidden))
        coords = torch.linspace(-1, 1, 32)
        yy, xx = torch.meshgrid(coords, coords, indexing="ij")
        self.register_buffer("coords", torch.stack([xx, yy])[None], persistent=False)

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """``images``: (B, 3, 32, 32) in [-1, 1] -> (B, C, 8, 8) CNN features."""
        b = images.shape[0]
        x = torch.cat([images, self.coords.expand(b, -1, -1, -1).to(images.dtype)], dim=1)
        return self.cnn(x)

    def tokens(self, f: torch.Tensor) -> torch.Tensor:
        """(B, C, 8, 8) -> (B, grid*grid, hidden) prefix embeddings (2x2 patch merge)."""
        b, m, g = f.shape[0], self.merge, self.grid
        f = f.reshape(b, -1, g, m, g, m).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, -1)
        return self.proj(f) + self.pos

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images``: (B, 3, 32, 32) in [-1, 1] -> (B, grid*grid, hidden)."""
        return self.tokens(self.feature_map(images))


class ShapesVLM(nn.Module):
    """Image prefix encoder plus Llama decoder; the decoder is ``self.lm``."""

    def __init__(self, config: TargetConfig):
        super().__init__()
        self.config = config
        self.encoder = PatchEncoder(config.hidden, config.grid, config.enc_channels)
        self.lm = LlamaForCausalLM(config.llama_config())
        # Training-only probe: which shape (or none) has its centre in each 4x4-pixel cell of
        # the CNN map. Dense supervision speeds up learning shapes; never exported.
        self.aux_shape = nn.Conv2d(config.enc_channels[-1], 1 + len(SHAPES), 1)
        # Same for colours: without it a run can learn counts, shapes and cells but call
        # every object "red" for thousands of steps.
        self.aux_color = nn.Conv2d(config.enc_channels[-1], 1 + len(COLORS), 1)

    @property
    def prefix_len(self) -> int:
        return self.config.grid**2

    def embed_prompt(self, images: torch.Tensor | None, prompt_ids: torch.Tensor) -> torch.Tensor:
        """``inputs_embeds`` for the prompt pass: image prefix (if any) then prompt tokens."""
        tok = self.lm.get_input_embeddings()(prompt_ids)
        if images is None:
            return tok
        return torch.cat([self.encoder(images).to(tok.dtype), tok], dim=1)


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """(32, 32, 3) uint8 -> (1, 3, 32, 32) float in [-1, 1]."""
    arr = np.asarray(image)
    if arr.shape != (32, 32, 3):
        raise ValueError(f"expected a 32x32 RGB image, got array of shape {arr.shape}")
    t = torch.from_numpy(arr.astype(np.float32) / 127.5 - 1.0)
    return t.permute(2, 0, 1)[None]

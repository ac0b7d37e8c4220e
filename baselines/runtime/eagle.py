"""EAGLE-style draft head: a generic ``nn.Module`` that reads a target's hidden states.

Data flow at position ``t`` (EAGLE-1, and EAGLE-3 with multi-layer features)::

    feature_t  = fc_features(concat(target hidden of feature_layers at t))   # F -> H (EAGLE-3)
               | target last hidden at t                                       # EAGLE-1 (F = H)
               | the head's own output at t                                    # later draft steps
    x_t        = fuse(concat(feature_t, embed(token at t + 1)))                # 2H -> H
    h_t        = decoder_layer(x_t)       # one LlamaDecoderLayer, causal, own KV cache
    logits_t   = target.lm_head(norm(h_t))   # predicts the token at t + 2

The embedding table and LM head are the target's (shared, not saved with the head).
``feature_layers`` index transformers' ``hidden_states`` tuple: 0 is the embedding
output, ``i`` the output of decoder layer ``i``, ``-1`` the final *normed* hidden state.

Training (for a trainer of this head): run the target over a sequence with
``output_hidden_states=True``; for every position ``t < T - 1`` feed
``features[:, :-1]`` and ``embed(ids[:, 1:])`` (or the next ``inputs_embeds`` rows for an
image prefix) to :meth:`EagleHead.forward` with ``cache=None``; the logits at ``t`` are
trained towards the target's token at ``t + 2`` (cross-entropy against the target's
distribution is what EAGLE uses) and, optionally, ``h_t`` towards the target's feature at
``t + 1`` (EAGLE-1's regression term). At decode time the runtime feeds the head its own
``h_t`` as the next feature (``own_features=True``), so training on the head's own rollouts
(EAGLE-3's training-time test) improves later positions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import (
    LlamaDecoderLayer,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
)

from .kv_cache import cache_arg
from .lean import LeanLayer, causal_mask, decoder_layer, lean_layers, linear, signed_sin
from .tagged_file import read_tagged_metadata

FORMAT = "hbench-eagle-head-v1"
DRAFT_VOCAB = "draft_vocab"  # optional int64 tensor of target ids (see EagleHead.logits)


@dataclass
class HeadKV:
    """Preallocated KV buffers and rotary table of a head at decode time (batch 1).

    Passing one as ``cache`` to :meth:`EagleHead.forward` selects the lean path: the same
    weights and submodules, without transformers' attention plumbing.
    """

    k: torch.Tensor
    v: torch.Tensor
    cos: torch.Tensor
    sin: torch.Tensor  # sign-folded (lean.signed_sin)
    length: int = 0

    def get_seq_length(self) -> int:
        return self.length

    def truncate(self, length: int) -> None:
        """Keep the first ``length`` entries."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a head cache of length {self.length} to {length}")
        self.length = length


@dataclass(frozen=True)
class EagleHeadConfig:
    """Shape of an :class:`EagleHead`.

    Attributes:
        hidden_size: the target's hidden size ``H`` (and the head's).
        num_attention_heads: attention heads of the head's decoder layer.
        intermediate_size: FFN width of the decoder layer.
        num_key_value_heads: KV heads (defaults to ``num_attention_heads``).
        feature_layers: indices into the target's ``hidden_states`` tuple; ``(-1,)`` is EAGLE-1,
            three indices (low, mid, high) is EAGLE-3 style.
        rms_norm_eps: epsilon of the RMS norms.
        rope_theta: RoPE base (use the target's).
        max_position_embeddings: longest position the head will see.
    """

    hidden_size: int
    num_attention_heads: int
    intermediate_size: int
    num_key_value_heads: int | None = None
    feature_layers: tuple[int, ...] = field(default=(-1,))
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 4096

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_layers", tuple(int(i) for i in self.feature_layers))
        if not self.feature_layers:
            raise ValueError("feature_layers must name at least one hidden-state index")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )

    def llama_config(self) -> LlamaConfig:
        cfg = LlamaConfig(
            vocab_size=1,  # the head has no embedding table of its own
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=1,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads or self.num_attention_heads,
            rms_norm_eps=self.rms_norm_eps,
            rope_theta=self.rope_theta,
            max_position_embeddings=self.max_position_embeddings,
            bos_token_id=None,
            eos_token_id=None,
            pad_token_id=None,
        )
        cfg._attn_implementation = "sdpa"
        return cfg

    @classmethod
    def for_target(cls, target_config: object, **overrides: object) -> EagleHeadConfig:
        """A head config matching a transformers text config (hidden size, heads, RoPE)."""
        text = target_config.get_text_config(decoder=True)  # type: ignore[attr-defined]
        rope = getattr(text, "rope_parameters", None) or {}
        base = dict(
            hidden_size=text.hidden_size,
            num_attention_heads=text.num_attention_heads,
            num_key_value_heads=getattr(text, "num_key_value_heads", None),
            intermediate_size=text.intermediate_size,
            rms_norm_eps=getattr(text, "rms_norm_eps", 1e-6),
            rope_theta=float(rope.get("rope_theta", getattr(text, "rope_theta", 10000.0))),
            max_position_embeddings=text.max_position_embeddings,
        )
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]


class EagleHead(nn.Module):
    """Draft head: feature fusion + one Llama decoder layer + norm (LM head is the target's)."""

    def __init__(self, config: EagleHeadConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_size
        n_feat = len(config.feature_layers)
        # EAGLE-3: low/mid/high features are projected back to H; EAGLE-1 uses h_t as is.
        self.fc_features = nn.Linear(n_feat * h, h, bias=False) if n_feat > 1 else None
        self.fuse = nn.Linear(2 * h, h, bias=False)
        lcfg = config.llama_config()
        self.layer = LlamaDecoderLayer(lcfg, layer_idx=0)
        self.norm = LlamaRMSNorm(h, eps=config.rms_norm_eps)
        self.rotary = LlamaRotaryEmbedding(lcfg)
        self._lean: list[LeanLayer] = []  # the layer's lean arrangement (see new_cache)
        # EAGLE-3's draft vocabulary: target token ids the head projects onto (None: all).
        self.draft_vocab: torch.Tensor | None = None
        self._sub_head: tuple[tuple[int, int, int], torch.Tensor] | None = None

    @property
    def feature_dim(self) -> int:
        return len(self.config.feature_layers) * self.config.hidden_size

    def forward(
        self,
        features: torch.Tensor,
        next_embeds: torch.Tensor,
        position_ids: torch.Tensor,
        cache: object | None = None,
        own_features: bool = False,
    ) -> torch.Tensor:
        """Run the head over ``T`` positions.

        Args:
            features: ``[B, T, F]`` target features (``F = len(feature_layers) * H``) or, with
                ``own_features``, ``[B, T, H]`` outputs of earlier head steps.
            next_embeds: ``[B, T, H]`` embeddings of the token (or prefix row) at ``t + 1``.
            position_ids: ``[B, T]`` absolute positions ``t``.
            cache: a :class:`HeadKV` (lean decode path), a transformers ``Cache`` with one
                layer, or None (training: plain causal).
            own_features: whether ``features`` are head outputs (skip ``fc_features``).

        Returns:
            ``[B, T, H]`` head hidden states (pre-norm); see :meth:`logits`.
        """
        if not own_features and self.fc_features is not None:
            features = self.fc_features(features)
        x = self.fuse(torch.cat([features, next_embeds], dim=-1))
        if isinstance(cache, HeadKV):
            if x.shape[0] != 1:
                raise ValueError("the lean head path decodes one sequence (batch 1)")
            t = x.shape[1]
            mask = causal_mask(cache.length, t, x.device)
            out = decoder_layer(
                self._lean[0], x[0], cache.k, cache.v, cache.length, cache.cos, cache.sin, mask,
                rows=position_ids[0],
            )  # fmt: skip
            cache.length += t
            return out[None]
        mask = None
        past = cache.get_seq_length() if cache is not None else 0
        t = x.shape[1]
        if past and t > 1:
            # SDPA's is_causal is top-left aligned; with a cache prefix the mask must be explicit.
            kv = torch.arange(past + t, device=x.device)
            q = torch.arange(t, device=x.device) + past
            mask = (kv[None, :] <= q[:, None])[None, None]
        cos_sin = self.rotary(x, position_ids)
        return self.layer(
            x,
            attention_mask=mask,
            position_ids=position_ids,
            **cache_arg(self.layer, cache),
            use_cache=cache is not None,
            position_embeddings=cos_sin,
        )

    def new_cache(
        self, max_len: int, max_pos: int, like: torch.Tensor, streamed: bool = False
    ) -> HeadKV:
        """Empty :class:`HeadKV` for ``max_len`` entries and positions below ``max_pos``.

        ``streamed``: project as a target whose weights stream from memory does
        (:func:`~.lean.linear`); the head runs between its forwards, so its own weights are
        evicted too.
        """
        attn = self.layer.self_attn
        n_kv = attn.k_proj.out_features // attn.head_dim
        shape = (1, n_kv, max_len, attn.head_dim)
        pos = torch.arange(max_pos, device=like.device)[None]
        cos, sin = self.rotary(like.new_zeros(1, 1, attn.head_dim), pos)
        # Rebuilt if training changed the layer.
        self._lean = lean_layers([self.layer], self._lean, streamed)
        return HeadKV(like.new_zeros(shape), like.new_zeros(shape), cos[0], signed_sin(sin[0]))

    def logits(
        self,
        hidden: torch.Tensor,
        lm_head: nn.Module,
        full_vocab: bool = False,
        streamed: bool = False,
    ) -> torch.Tensor:
        """Next-next-token logits from head hidden states through the target's LM head.

        With a :attr:`draft_vocab` (and not ``full_vocab``) only its rows of the LM head are
        computed (EAGLE-3's reduced draft vocabulary: most of a small head's cost is the
        projection onto the vocabulary); every other target id gets ``-inf``, so the result
        is still indexed by target ids and greedy / rejection-sampling verification is
        unchanged. ``streamed`` as for :meth:`new_cache`.
        """
        normed = self.norm(hidden)
        if self.draft_vocab is None or full_vocab:
            return lm_head(normed)
        weight = lm_head.weight
        if getattr(lm_head, "bias", None) is not None:
            raise ValueError("a draft vocabulary needs an LM head without bias")
        key = (id(weight), weight._version, weight.data_ptr())
        if self._sub_head is None or self._sub_head[0] != key:  # gather the rows once
            self._sub_head = (key, weight.detach()[self.draft_vocab.to(weight.device)])
        sub = linear(normed.reshape(-1, normed.shape[-1]), self._sub_head[1], streamed=streamed)
        sub = sub.view(*normed.shape[:-1], sub.shape[-1])
        out = sub.new_full((*sub.shape[:-1], weight.shape[0]), float("-inf"))
        out[..., self.draft_vocab.to(out.device)] = sub
        return out

    def save(self, path: str | Path) -> None:
        """Write weights and config to one safetensors file."""
        meta = {"format": FORMAT, "config": json.dumps(asdict(self.config))}
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        if self.draft_vocab is not None:
            tensors[DRAFT_VOCAB] = self.draft_vocab.to(torch.int64).contiguous().cpu()
        save_file(tensors, str(path), metadata=meta)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> EagleHead:
        """Read a head written by :meth:`save` (safetensors only; strict key check)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"EAGLE head checkpoint not found: {path}")
        meta = read_tagged_metadata(path, FORMAT, "an hbench EAGLE head")
        try:
            config = EagleHeadConfig(**json.loads(meta["config"]))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: bad head config in metadata: {err}") from err
        head = cls(config)
        state = load_file(str(path), device=str(device))
        vocab = state.pop(DRAFT_VOCAB, None)
        missing, unexpected = head.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{path}: missing keys {missing}, unexpected keys {unexpected}")
        if vocab is not None:
            if vocab.dim() != 1 or vocab.dtype != torch.int64 or vocab.numel() == 0:
                raise ValueError(f"{path}: {DRAFT_VOCAB} must be a non-empty 1-D int64 tensor")
            head.draft_vocab = vocab
        return head.to(device)

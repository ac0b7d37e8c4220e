"""A lean forward for Llama-architecture decoders (Llama, Mistral, Qwen2, Qwen3 text stacks).

At batch size 1 on a CPU, most of a transformers forward for one token is Python
overhead: mask construction, cache bookkeeping, decorators and keyword plumbing. This
:class:`~.target.Target` runs the *same weights and submodules* (projections, RMS norms,
MLPs, the model's own rotary module) through a short loop with preallocated KV buffers,
a rotary table computed once per generation, and no mask for single-token steps. Baseline
decoding and speculative decoding both use it, so neither side gets a slower forward.

Models outside the supported list, sliding-window layers and multimodal RoPE are refused;
use :class:`~.target.HFCausalLMTarget` for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import SiLUActivation

from .target import Prompt, StepOutput

SUPPORTED = ("llama", "mistral", "qwen2", "qwen3")


def causal_mask(past: int, t: int, device: torch.device) -> torch.Tensor | None:
    """Boolean SDPA mask for ``t`` new rows after ``past`` cached ones (None when not needed)."""
    if t == 1 or past == 0:
        return None  # one query sees everything; an empty cache uses is_causal
    kv = torch.arange(past + t, device=device)
    return (kv[None, :] <= (torch.arange(t, device=device) + past)[:, None])[None, None]


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Llama RMSNorm in one op (fp32 statistics, weight applied in x's dtype)."""
    if x.dtype == torch.float32:
        return F.rms_norm(x, (x.shape[-1],), weight, eps)
    return weight * F.rms_norm(x.float(), (x.shape[-1],), None, eps).to(x.dtype)


# Fused q/k/v and gate/up copies cost extra memory (about 2/3 of a decoder's weights); they
# pay where per-call dispatch dominates (small models at batch 1), not for multi-GB models,
# whose layers then run the separate projections.
FUSE_BUDGET_BYTES = 64 * 2**20

Linear = tuple[torch.Tensor, torch.Tensor | None]  # (weight, bias)


def _fused(mods: list[nn.Module], fuse: bool) -> tuple[Linear, ...]:
    """One concatenated projection (``fuse`` and compatible biases), else the parts as they are."""
    biases = [m.bias for m in mods]
    if not fuse or (any(b is None for b in biases) and not all(b is None for b in biases)):
        return tuple((m.weight, m.bias) for m in mods)
    bias = None if biases[0] is None else torch.cat(biases).contiguous()
    return ((torch.cat([m.weight for m in mods]).contiguous(), bias),)


# Up to this many rows a CPU projection of a model whose weights stream from memory runs as
# ``W @ x.T``. Measured on the 2-core CPU here (MKL, fp32, SmolLM2-135M, one and two threads),
# F.linear's ``x @ W.T`` makes one decode step 1.3-2x slower at 1-5 rows, and a lone row is
# fastest duplicated into two (MKL's matrix-vector path is the slow one). For weights that stay
# in cache (the shapes models, a few MB) it is the reverse: F.linear is 2-3x faster there.
# Baseline and speculative decoding share the choice, so neither side gains.
SMALL_ROWS = 8
# Weights above this size (twice this machine's 32 MB last-level cache) are read from memory at
# every step: the regime where the ``W @ x.T`` form pays.
STREAM_BYTES = 64 * 2**20


def streams(modules: list[nn.Module]) -> bool:
    """Whether the modules' parameters together exceed :data:`STREAM_BYTES`."""
    seen = {p.data_ptr(): p.numel() * p.element_size() for m in modules for p in m.parameters()}
    return sum(seen.values()) > STREAM_BYTES


def linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    streamed: bool,
) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for ``x [T, in]``, faster for a few rows of streamed weights.

    The same dot products in another BLAS call; results agree with F.linear to float rounding.
    Cached weights (``streamed`` False), other devices, batched inputs and long inputs
    (prefill) go to F.linear unchanged.
    """
    rows = x.shape[0]
    if not streamed or x.device.type != "cpu" or x.dim() != 2 or rows > SMALL_ROWS:
        return F.linear(x, weight, bias)
    xs = torch.cat([x, x]) if rows == 1 else x
    y = torch.mm(weight, xs.t()).t()[:rows].contiguous()
    return y if bias is None else y + bias


def _project(x: torch.Tensor, parts: tuple[Linear, ...], streamed: bool) -> torch.Tensor:
    if len(parts) == 1:
        return linear(x, *parts[0], streamed=streamed)
    return torch.cat([linear(x, w, b, streamed=streamed) for w, b in parts], dim=-1)


def fused_bytes(layers: list[nn.Module]) -> int:
    """Extra memory of fusing q/k/v and gate/up in every layer."""
    mods = [m for layer in layers for m in (layer.self_attn.q_proj, layer.self_attn.k_proj,
            layer.self_attn.v_proj, layer.mlp.gate_proj, layer.mlp.up_proj)]  # fmt: skip
    return sum(m.weight.numel() * m.weight.element_size() for m in mods)


@dataclass(frozen=True)
class LeanLayer:
    """One Llama-style decoder layer's weights arranged for the lean forward.

    With ``fuse``, q/k/v and gate/up are concatenated into one projection each (one matmul
    instead of three and two; at batch 1 on a CPU each matmul call costs more dispatch than
    math). The concatenation changes no number: each output row is the same dot product.
    ``streamed`` selects :func:`linear`'s few-row form (the model's weights stream from memory).
    """

    qkv: tuple[Linear, ...]
    o: Linear
    gate_up: tuple[Linear, ...]
    down: Linear
    ln1: torch.Tensor
    ln1_eps: float
    ln2: torch.Tensor
    ln2_eps: float
    q_norm: tuple[torch.Tensor, float] | None  # Qwen3's per-head norms (weight, eps)
    k_norm: tuple[torch.Tensor, float] | None
    act: Callable[[torch.Tensor], torch.Tensor]
    n_q: int
    n_kv: int
    head_dim: int
    scaling: float
    source: tuple[tuple[int, int], ...]  # (data_ptr, version) of the weights it was built from
    streamed: bool = False

    @classmethod
    def of(cls, layer: nn.Module, fuse: bool = True, streamed: bool = False) -> LeanLayer:
        """The lean arrangement of a transformers ``*DecoderLayer``."""
        attn, mlp = layer.self_attn, layer.mlp
        q, k, v = attn.q_proj, attn.k_proj, attn.v_proj
        hd = attn.head_dim

        def norm(m: nn.Module) -> tuple[torch.Tensor, float]:
            return m.weight, float(getattr(m, "variance_epsilon", getattr(m, "eps", 1e-6)))

        qn = norm(attn.q_norm) if hasattr(attn, "q_norm") else None
        kn = norm(attn.k_norm) if hasattr(attn, "k_norm") else None
        # transformers' SiLU modules just call F.silu; calling it directly skips a module call.
        act = F.silu if isinstance(mlp.act_fn, (SiLUActivation, nn.SiLU)) else mlp.act_fn
        return cls(
            qkv=_fused([q, k, v], fuse),
            o=(attn.o_proj.weight, attn.o_proj.bias),
            gate_up=_fused([mlp.gate_proj, mlp.up_proj], fuse),
            down=(mlp.down_proj.weight, mlp.down_proj.bias),
            ln1=layer.input_layernorm.weight,
            ln1_eps=norm(layer.input_layernorm)[1],
            ln2=layer.post_attention_layernorm.weight,
            ln2_eps=norm(layer.post_attention_layernorm)[1],
            q_norm=qn,
            k_norm=kn,
            act=act,
            n_q=q.out_features // hd,
            n_kv=k.out_features // hd,
            head_dim=hd,
            scaling=float(attn.scaling),
            source=_fingerprint(layer),
            streamed=streamed,
        )

    def fresh(self, layer: nn.Module) -> bool:
        """Whether ``layer``'s weights are unchanged since this arrangement was built."""
        return self.source == _fingerprint(layer)


def _fingerprint(layer: nn.Module) -> tuple[tuple[int, int], ...]:
    # In-place updates (optimizer steps, load_state_dict) bump _version; .to() moves data_ptr.
    # Inference tensors (made under inference_mode) keep no version: their data_ptr must do.
    return tuple((p.data_ptr(), -1 if p.is_inference() else p._version) for p in layer.parameters())


def lean_layers(
    layers: list[nn.Module], cached: list[LeanLayer], streamed: bool = False
) -> list[LeanLayer]:
    """``cached`` if it still matches ``layers``' weights and ``streamed``, else a fresh
    arrangement (fused when the copies fit :data:`FUSE_BUDGET_BYTES`)."""
    if len(cached) == len(layers) and all(
        c.fresh(m) and c.streamed == streamed for c, m in zip(cached, layers, strict=True)
    ):
        return cached
    fuse = fused_bytes(layers) <= FUSE_BUDGET_BYTES
    return [LeanLayer.of(m, fuse, streamed) for m in layers]


def _rope(x: torch.Tensor, cos: torch.Tensor, sin_signed: torch.Tensor) -> torch.Tensor:
    # rotate_half(x) * sin == roll(x, hd/2) * [-sin_lo, sin_hi]: one op instead of four,
    # the same products (sign flips are exact).
    return x * cos + torch.roll(x, x.shape[-1] // 2, dims=-1) * sin_signed


def signed_sin(sin: torch.Tensor) -> torch.Tensor:
    """``[-sin[..., :hd/2], sin[..., hd/2:]]``, the rotary sine table :func:`decoder_layer` takes."""
    half = sin.shape[-1] // 2
    return torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)


def decoder_layer(
    layer: LeanLayer,
    x: torch.Tensor,
    k_buf: torch.Tensor,
    v_buf: torch.Tensor,
    start: int,
    cos: torch.Tensor,
    sin: torch.Tensor,
    mask: torch.Tensor | None,
    rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """One Llama-style decoder layer on ``x [T, H]`` with preallocated KV buffers.

    Args:
        layer: the layer's :class:`LeanLayer` arrangement.
        x: ``[T, H]`` inputs of the ``T`` new positions.
        k_buf: ``[1, n_kv, max_len, head_dim]`` key buffer (rows ``start..start+T`` written).
        v_buf: value buffer, same shape.
        start: cached rows before the new ones.
        cos: ``[max_pos, head_dim]`` rotary table (as the model's rotary module computes it).
        sin: ``[max_pos, head_dim]`` sine table from :func:`signed_sin`.
        mask: from :func:`causal_mask`.
        rows: ``[T]`` rotary positions; None means ``start..start+T``.
    """
    t = x.shape[0]
    hd, nq, nkv = layer.head_dim, layer.n_q, layer.n_kv
    h = rms_norm(x, layer.ln1, layer.ln1_eps)
    qkv = _project(h, layer.qkv, layer.streamed).view(t, nq + 2 * nkv, hd)
    end = start + t
    if rows is None:
        c, s = cos[start:end, None], sin[start:end, None]
    else:
        c, s = cos[rows][:, None], sin[rows][:, None]
    if layer.q_norm is None:
        qk = _rope(qkv[:, : nq + nkv], c, s)  # queries and keys rotated together
        q, k = qk[:, :nq], qk[:, nq:]
    else:  # Qwen3: per-head RMS norm before RoPE
        q = _rope(rms_norm(qkv[:, :nq], *layer.q_norm), c, s)
        k = _rope(rms_norm(qkv[:, nq : nq + nkv], *layer.k_norm), c, s)
    k_buf[0, :, start:end] = k.transpose(0, 1)
    v_buf[0, :, start:end] = qkv[:, nq + nkv :].transpose(0, 1)
    out = F.scaled_dot_product_attention(
        q.transpose(0, 1)[None],
        k_buf[:, :, :end],
        v_buf[:, :, :end],
        attn_mask=mask,
        is_causal=mask is None and t > 1,  # only at an empty cache (prefill)
        scale=layer.scaling,
        enable_gqa=nq != nkv,
    )
    x = x + linear(out[0].transpose(0, 1).reshape(t, -1), *layer.o, streamed=layer.streamed)
    h = rms_norm(x, layer.ln2, layer.ln2_eps)
    gate, up = _project(h, layer.gate_up, layer.streamed).chunk(2, dim=-1)
    return x + linear(layer.act(gate) * up, *layer.down, streamed=layer.streamed)


class _LeanForward(nn.Module):
    """The lean forward as a module call, so forward hooks (profiler, benchmark) see it."""

    def __init__(self, owner: LeanLlamaTarget) -> None:
        super().__init__()
        self._owner = [owner]  # a list: not registered as a submodule (no parameter sharing)

    def forward(self, x: torch.Tensor, last_only: bool) -> StepOutput:
        return self._owner[0]._forward(x, last_only)


class LeanLlamaTarget:
    """:class:`~.target.Target` with a hand-rolled forward over a Llama-style decoder.

    Args:
        model: a transformers causal LM (or VLM; its text decoder is used).
        feature_layers: ``hidden_states`` indices returned as drafter features (same indexing
            as transformers: 0 embeddings, ``i`` output of layer ``i``, last/-1 final normed).
    """

    cache_kind = "lean"

    def __init__(self, model: nn.Module, feature_layers: tuple[int, ...] | None = None) -> None:
        self.model = model
        self.decoder = model.get_decoder()
        cfg = model.config.get_text_config(decoder=True)
        check_supported(model)
        self.config = cfg
        self.layers = list(self.decoder.layers)[: cfg.num_hidden_layers]
        attn = self.layers[0].self_attn
        self.head_dim = attn.head_dim
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads or cfg.num_attention_heads
        self.scaling = attn.scaling
        self._norm_eps = float(self.decoder.norm.variance_epsilon)
        self._embed = model.get_input_embeddings()
        self._lm_head = model.get_output_embeddings()
        self.vocab_size = int(self._lm_head.weight.shape[0])
        # Whether a decode step reads the weights from memory (see :func:`linear`); a drafter
        # running beside this target (EAGLE head) follows the same choice.
        self.streamed = streams([*self.layers, self._lm_head])
        self.feature_layers = tuple(feature_layers) if feature_layers else None
        n = len(self.layers)
        if self.feature_layers is not None:
            for i in self.feature_layers:
                if not -(n + 1) <= i <= n:
                    raise ValueError(f"feature layer {i} out of range for {n} layers")
        # Forward hooks (the profiler's target-forward counts) attach here.
        self.forward_module = _LeanForward(self)
        self._lean: list[LeanLayer] = []
        self._k: list[torch.Tensor] = []
        self._v: list[torch.Tensor] = []
        self._cos = self._sin = None
        self._len = 0

    @property
    def lm_head(self) -> nn.Module:
        return self._lm_head

    @property
    def length(self) -> int:
        return self._len

    def start(self, max_len: int) -> None:
        w = self._lm_head.weight
        shape = (1, self.n_kv, max_len, self.head_dim)
        if not self._k or self._k[0].shape != shape or self._k[0].dtype != w.dtype:
            self._k = [w.new_zeros(shape) for _ in self.layers]
            self._v = [w.new_zeros(shape) for _ in self.layers]
            pos = torch.arange(max_len, device=w.device)[None]
            cos, sin = self.decoder.rotary_emb(w.new_zeros(1, 1, self.head_dim), pos)
            self._cos, self._sin = cos[0], signed_sin(sin[0])  # [max_len, head_dim]
        # Rebuilt if the weights changed.
        self._lean = lean_layers(self.layers, self._lean, self.streamed)
        self._len = 0

    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self._embed(token_ids)

    def prompt_embeds(self, prompt: Prompt) -> torch.Tensor:
        if prompt.inputs_embeds is not None:
            return prompt.inputs_embeds
        return self.embed(prompt.input_ids)

    def rollback(self, length: int) -> None:
        if not 0 <= length <= self._len:
            raise ValueError(f"cannot roll a cache of length {self._len} back to {length}")
        self._len = length

    def _run(self, x: torch.Tensor, last_only: bool) -> StepOutput:
        return self.forward_module(x, last_only)

    def _forward(self, x: torch.Tensor, last_only: bool) -> StepOutput:
        t = x.shape[0]
        if self._len + t > self._k[0].shape[2]:
            raise RuntimeError(f"KV buffer overflow: {self._len + t} > {self._k[0].shape[2]}")
        mask = causal_mask(self._len, t, x.device)
        want = self.feature_layers
        hidden = [x] if want is not None else None
        for i, layer in enumerate(self._lean):
            x = decoder_layer(
                layer, x, self._k[i], self._v[i], self._len, self._cos, self._sin, mask
            )
            if hidden is not None:
                hidden.append(x)
        self._len += t
        x = rms_norm(x, self.decoder.norm.weight, self._norm_eps)
        features = None
        if want is not None:
            hidden[-1] = x  # transformers' convention: the last entry is the normed output
            features = x if want == (-1,) else torch.cat([hidden[j] for j in want], dim=-1)
        rows = x[-1:] if last_only else x
        logits = linear(rows, self._lm_head.weight, self._lm_head.bias, streamed=self.streamed)
        return StepOutput(logits=logits.float(), features=features)

    def prefill(self, prompt: Prompt) -> StepOutput:
        if prompt.position_ids is not None:
            raise NotImplementedError("the lean forward uses positions 0..P-1 only")
        return self._run(self.prompt_embeds(prompt), last_only=True)

    def extend(self, token_ids: torch.Tensor) -> StepOutput:
        return self._run(self.embed(token_ids), last_only=False)


def check_supported(model: nn.Module) -> None:
    """Raise NotImplementedError unless :class:`LeanLlamaTarget` can run ``model`` exactly."""
    cfg = model.config.get_text_config(decoder=True)
    kind = getattr(cfg, "model_type", "")
    if kind not in SUPPORTED:
        raise NotImplementedError(
            f"lean forward supports {', '.join(SUPPORTED)} decoders, not {kind!r}: use forward=hf"
        )
    types = getattr(cfg, "layer_types", None) or []
    if any(t != "full_attention" for t in types) or getattr(cfg, "use_sliding_window", False):
        raise NotImplementedError("lean forward: sliding-window layers are not supported")
    rope = getattr(cfg, "rope_parameters", None) or {}
    if rope.get("mrope_section") is not None:
        raise NotImplementedError("lean forward: multimodal RoPE is not supported")
    if getattr(model.config, "_attn_implementation", "sdpa") not in ("sdpa", "eager", None):
        raise NotImplementedError("lean forward mirrors sdpa/eager attention only")


FORWARDS = ("auto", "lean", "hf")


def make_target(
    model: nn.Module,
    forward: str = "auto",
    cache_kind: str = "prealloc",
    feature_layers: tuple[int, ...] | None = None,
):
    """Build the runtime target of ``model``.

    Args:
        model: a transformers causal LM or VLM.
        forward: ``lean`` (:class:`LeanLlamaTarget`, raises if unsupported), ``hf``
            (:class:`~.target.HFCausalLMTarget` with ``cache_kind``) or ``auto`` (lean when
            supported, else hf; the choice is visible as ``target.cache_kind``).
        cache_kind: KV cache kind of the hf forward.
        feature_layers: drafter features to return.
    """
    from .target import HFCausalLMTarget

    if forward not in FORWARDS:
        raise ValueError(f"Unknown forward {forward!r}. Available: {', '.join(FORWARDS)}")
    if forward == "lean":
        return LeanLlamaTarget(model, feature_layers)
    if forward == "auto":
        try:
            check_supported(model)
        except NotImplementedError:
            forward = "hf"
        else:
            return LeanLlamaTarget(model, feature_layers)
    return HFCausalLMTarget(model, cache_kind=cache_kind, feature_layers=feature_layers)

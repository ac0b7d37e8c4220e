"""KV caches with cheap rollback for the decoding runtime.

Three kinds, chosen by name so that baseline greedy and speculative decoding use exactly
the same machinery:

* ``"prealloc"`` (default): one buffer per layer allocated once for the whole generation;
  ``update`` copies the new keys/values in place and returns a *view* of the filled part,
  so attention only reads valid positions and a rollback is an integer assignment.
* ``"dynamic"``: transformers' ``DynamicCache`` (concatenation per step, ``crop`` to roll back).
* ``"static"``: transformers' ``StaticCache`` (attention over the full preallocated length,
  masked; rollback resets the length counter).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer, StaticCache

CACHE_KINDS: tuple[str, ...] = ("prealloc", "dynamic", "static")


class PreallocatedLayer(DynamicLayer):
    """A dynamic-looking cache layer backed by a buffer of ``max_len`` positions.

    It reports itself as dynamic to transformers' mask code (``kv_length = filled + query``),
    but never reallocates: this avoids the O(length) ``torch.cat`` of ``DynamicLayer``
    per step and the full-length attention of ``StaticLayer``.
    """

    def __init__(self, max_len: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_len = max_len
        self.length = 0
        self._k_buf: torch.Tensor | None = None
        self._v_buf: torch.Tensor | None = None

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        b, h, _, dk = key_states.shape
        self._k_buf = key_states.new_zeros((b, h, self.max_len, dk))
        self._v_buf = value_states.new_zeros((b, h, self.max_len, value_states.shape[-1]))
        self.keys = self._k_buf[:, :, :0]
        self.values = self._v_buf[:, :, :0]
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        end = self.length + n
        if end > self.max_len:
            raise RuntimeError(
                f"KV cache overflow: {end} positions needed, buffer holds {self.max_len}; "
                "raise max_len when building the cache"
            )
        self._k_buf[:, :, self.length : end] = key_states
        self._v_buf[:, :, self.length : end] = value_states
        self.length = end
        self.keys = self._k_buf[:, :, :end]
        self.values = self._v_buf[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def get_max_length(self) -> int:
        return self.max_len

    def crop(self, tokens_to_remove: int) -> None:
        # Same convention as DynamicLayer.crop: a non-positive count of tokens to drop.
        if tokens_to_remove > 0:
            raise ValueError(f"crop expects a non-positive count, got {tokens_to_remove}")
        self.truncate(self.length + tokens_to_remove)

    def truncate(self, length: int) -> None:
        """Keep the first ``length`` positions (stale rows beyond it are overwritten later)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot truncate a cache of length {self.length} to {length}")
        self.length = length
        if self.is_initialized:
            self.keys = self._k_buf[:, :, :length]
            self.values = self._v_buf[:, :, :length]

    def reset(self) -> None:
        self.truncate(0)


def _num_layers(config: Any) -> int:
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    return int(text.num_hidden_layers)


def _has_sliding_layers(config: Any) -> bool:
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    types = getattr(text, "layer_types", None) or []
    return any(t != "full_attention" for t in types)


def make_cache(config: Any, max_len: int, kind: str = "prealloc") -> Cache:
    """Build an empty KV cache for a transformers model config.

    Args:
        config: the (text or multimodal) model config.
        max_len: positions the cache must hold (prompt + new tokens + draft block + 1).
        kind: one of :data:`CACHE_KINDS`.

    Raises:
        ValueError: unknown kind, or ``prealloc``/``static`` for a model with sliding-window or
            linear-attention layers (use ``dynamic`` there).
    """
    if kind not in CACHE_KINDS:
        raise ValueError(f"Unknown cache kind {kind!r}. Available: {', '.join(CACHE_KINDS)}")
    if kind == "dynamic":
        return DynamicCache(config=config)
    if _has_sliding_layers(config):
        raise ValueError(
            f"cache kind {kind!r} supports full-attention layers only; this model has "
            "sliding/linear layers: use kind='dynamic'"
        )
    if kind == "static":
        return StaticCache(config=config, max_cache_len=max_len)
    return Cache(layers=[PreallocatedLayer(max_len) for _ in range(_num_layers(config))])


def cache_length(cache: Cache) -> int:
    """Number of positions currently held by ``cache``."""
    return int(cache.get_seq_length())


def rollback(cache: Cache, length: int) -> None:
    """Shrink ``cache`` to its first ``length`` positions, whatever its kind."""
    current = cache_length(cache)
    if length == current:
        return
    if not 0 <= length < current:
        raise ValueError(f"cannot roll a cache of length {current} back to {length}")
    for layer in cache.layers:
        if isinstance(layer, PreallocatedLayer):
            layer.truncate(length)
        elif hasattr(layer, "cumulative_length") and torch.is_tensor(layer.cumulative_length):
            # StaticLayer: positions beyond the counter are masked and overwritten later.
            layer.cumulative_length.fill_(length)
        else:
            layer.crop(length - current)


# transformers 5.24 renamed the forward argument ``past_key_values`` to ``cache`` (the old
# name still works with a warning, until 5.40); older releases only know the old name.
CACHE_ARG_NAMES: tuple[str, ...] = ("cache", "past_key_values")


@functools.cache
def _cache_arg_of(forward: Any) -> str:
    params = inspect.signature(forward).parameters
    return next((n for n in CACHE_ARG_NAMES if n in params), "past_key_values")


def cache_arg(module: torch.nn.Module, cache: Cache | None) -> dict[str, Cache | None]:
    """``{name: cache}`` under the name ``module.forward`` takes for its KV cache."""
    return {_cache_arg_of(type(module).forward): cache}


def passed_cache(kwargs: dict[str, Any]) -> Cache | None:
    """The KV cache among forward ``kwargs``, under either of :data:`CACHE_ARG_NAMES`."""
    for name in CACHE_ARG_NAMES:
        if kwargs.get(name) is not None:
            return kwargs[name]
    return None

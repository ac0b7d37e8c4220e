"""The KV-cache argument name across transformers releases (``past_key_values`` -> ``cache``)."""

from __future__ import annotations

import warnings

import torch
from spec_models import build

from hbench.baselines.runtime.kv_cache import (
    CACHE_ARG_NAMES,
    cache_arg,
    cache_length,
    make_cache,
    passed_cache,
)


def test_cache_arg_is_the_name_the_forward_takes_and_the_cache_fills():
    lm = build("llama", seed=0)
    cache = make_cache(lm.config, max_len=16)
    kwargs = cache_arg(lm.model, cache)
    (name,) = kwargs
    assert name in CACHE_ARG_NAMES
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # a deprecated name would warn here
        lm.model(input_ids=torch.tensor([[1, 2, 3]]), use_cache=True, **kwargs)
    assert cache_length(cache) == 3


def test_passed_cache_finds_either_name():
    cache = make_cache(build("llama", seed=0).config, max_len=4)
    assert passed_cache({"cache": cache}) is cache
    assert passed_cache({"past_key_values": cache, "cache": None}) is cache
    assert passed_cache({"use_cache": True}) is None

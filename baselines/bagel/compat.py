"""Run BAGEL's code (written for transformers 4.49) under the transformers hbench uses.

BAGEL pins ``transformers==4.49.0``; hbench needs transformers 5. The official modules
import and run under 5 except where they rely on names 5 removed. :func:`apply` restores
those names with the 4.x behaviour, additively (nothing existing is replaced), and returns
what it added so the run manifest can record it. It runs at load time only.

* ``ROPE_INIT_FUNCTIONS["default"]``: plain RoPE inverse frequencies
  ``1 / base ** (arange(0, dim, 2) / dim)`` with attention factor 1.0 (4.x's
  ``_compute_default_rope_parameters``); BAGEL's ``Qwen2RotaryEmbedding`` looks it up.
"""

from __future__ import annotations

from typing import Any

import torch


def default_rope_parameters(
    config: Any = None, device: Any = None, seq_len: int | None = None, **rope_kwargs: Any
) -> tuple[torch.Tensor, float]:
    """transformers 4.x default RoPE: ``(inv_freq [dim/2], attention_factor 1.0)``."""
    if rope_kwargs:
        base, dim = rope_kwargs["base"], int(rope_kwargs["dim"])
    else:
        # Once added, transformers 5 also calls this for its own models, whose configs keep
        # the RoPE settings in ``rope_parameters`` rather than as attributes.
        params = getattr(config, "rope_parameters", None) or {}
        base = params.get("rope_theta") or getattr(config, "rope_theta", None)
        if base is None:
            raise ValueError(f"{type(config).__name__} has no rope_theta for default RoPE")
        factor = params.get("partial_rotary_factor") or getattr(
            config, "partial_rotary_factor", 1.0
        )
        head_dim = (
            getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        )
        dim = int(head_dim * factor)
    exponent = torch.arange(0, dim, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / dim
    return 1.0 / (base**exponent), 1.0


def apply() -> list[str]:
    """Add the missing 4.x names; returns the ones added (empty under transformers 4.x)."""
    from transformers import modeling_rope_utils

    added = []
    if "default" not in modeling_rope_utils.ROPE_INIT_FUNCTIONS:
        modeling_rope_utils.ROPE_INIT_FUNCTIONS["default"] = default_rope_parameters
        added.append("transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS['default']")
    return added

"""BAGEL's generator as one module whose forward is one NFE, and the sampling loop over it.

:class:`BagelGenerator` wraps a loaded official ``Bagel`` model; its ``forward`` is the
per-branch body of ``Bagel._forward_flow`` (latent + timestep + position embedding into the
packed query, one ``language_model.forward_inference`` over that branch's frozen KV context
with the MoT generation experts, ``llm2vae`` on the latent tokens). The profiler hooks it
as the ``generator`` role: one call per branch, one row per image.

:func:`sample_latent` is ``Bagel.generate_image``'s loop with the schedule and interval gate
of :mod:`.schedule` and a CFG combine: :func:`combine_pytorch` (BAGEL's arithmetic, in
bfloat16 under the scripts' autocast; the baseline's) or :func:`combine_kernel` (the fused
kernel, float32 arithmetic; the accelerated variants'). Branches run one call each, as BAGEL
runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .schedule import COND, NO_IMAGE, NO_TEXT, SamplerConfig, branches_at, timesteps


@dataclass
class Branch:
    """One CFG branch's frozen KV context and the query layout against it."""

    past_key_values: Any  # BAGEL NaiveCache
    key_values_lens: torch.Tensor
    packed_key_value_indexes: torch.Tensor
    packed_position_ids: torch.Tensor
    packed_query_indexes: torch.Tensor


@dataclass
class FlowInputs:
    """Everything a flow forward needs besides ``x`` and ``t`` (batch size 1).

    ``noise`` is ``[1, L, C]`` float32 (``L`` latent tokens, ``C`` = patch latent dim).
    """

    packed_text_ids: torch.Tensor
    packed_text_indexes: torch.Tensor
    packed_vae_token_indexes: torch.Tensor
    packed_vae_position_ids: torch.Tensor
    packed_seqlens: torch.Tensor
    noise: torch.Tensor
    image_shape: tuple[int, int]
    branches: dict[str, Branch] = field(default_factory=dict)


class BagelGenerator(nn.Module):
    """One CFG branch of ``Bagel._forward_flow``: the module whose forward is one NFE."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, branch: Branch, inputs: FlowInputs
    ) -> torch.Tensor:
        """Velocity ``[1, L, C]`` of latent ``x`` ``[1, L, C]`` at time ``t`` ``[1]`` for one branch."""
        if x.shape[0] != 1:
            raise NotImplementedError("bagel: the generator runs at batch size 1 (as BAGEL does)")
        m = self.model
        lm = m.language_model
        text = lm.model.embed_tokens(inputs.packed_text_ids)
        seq = text.new_zeros((int(inputs.packed_seqlens.sum()), m.hidden_size))
        seq[inputs.packed_text_indexes] = text
        # BAGEL embeds one timestep row per latent token (torch.tensor([t] * L)).
        tt = t.reshape(1).expand(x.shape[1]).contiguous()
        lat = (
            m.vae2llm(x[0])
            + m.time_embedder(tt)
            + m.latent_pos_embed(inputs.packed_vae_position_ids)
        )
        if lat.dtype != seq.dtype:
            lat = lat.to(seq.dtype)
        seq[inputs.packed_vae_token_indexes] = lat
        extra: dict[str, Any] = {}
        if m.use_moe:
            extra = {
                "mode": "gen",
                "packed_vae_token_indexes": inputs.packed_vae_token_indexes,
                "packed_text_indexes": inputs.packed_text_indexes,
            }
        out = lm.forward_inference(
            packed_query_sequence=seq,
            query_lens=inputs.packed_seqlens,
            packed_query_position_ids=branch.packed_position_ids,
            packed_query_indexes=branch.packed_query_indexes,
            past_key_values=branch.past_key_values,
            key_values_lens=branch.key_values_lens,
            packed_key_value_indexes=branch.packed_key_value_indexes,
            update_past_key_values=False,
            is_causal=False,
            **extra,
        )
        v = m.llm2vae(out.packed_query_sequence)
        return v[inputs.packed_vae_token_indexes][None]


Combine = Callable[..., torch.Tensor]


def combine_pytorch(
    v: torch.Tensor,
    v_no_text: torch.Tensor,
    v_no_image: torch.Tensor | None,
    config: SamplerConfig,
) -> torch.Tensor:
    """BAGEL's CFG combine, op for op in the velocities' dtype, over the ``[1, L, C]`` layout."""
    from hbench.baselines.runtime.flow import combine_cfg

    return combine_cfg(
        v, v_no_text, v_no_image, config.cfg_text_scale, config.cfg_img_scale,
        config.cfg_renorm_type, config.cfg_renorm_min, channel_dim=-1,
    )  # fmt: skip


def combine_kernel(
    v: torch.Tensor,
    v_no_text: torch.Tensor,
    v_no_image: torch.Tensor | None,
    config: SamplerConfig,
) -> torch.Tensor:
    """The fused CFG combine of :mod:`hbench.kernels.cfg` (Triton on CUDA, else its float32
    reference): not bit-identical to BAGEL's bfloat16 arithmetic, so accelerated variants only."""
    from hbench.kernels.cfg import cfg_combine

    return cfg_combine(
        v, v_no_text, v_no_image, config.cfg_text_scale, config.cfg_img_scale,
        config.cfg_renorm_type, config.cfg_renorm_min,
    )  # fmt: skip


@torch.no_grad()
def sample_latent(
    generator: nn.Module,
    inputs: FlowInputs,
    config: SamplerConfig,
    combine: Combine = combine_pytorch,
) -> torch.Tensor:
    """Integrate ``inputs.noise`` from t=1 to t=0 as ``Bagel.generate_image`` does.

    Returns:
        The final latent ``[1, L, C]`` (float32, like BAGEL's ``x_t``).
    """
    x = inputs.noise
    times = timesteps(config).to(x.device)
    dts = times[:-1] - times[1:]
    for i, t in enumerate(times[:-1]):
        active = branches_at(config, t)
        tt = t.reshape(1)
        v = {b: generator(x, tt, inputs.branches[b], inputs) for b in active}
        if NO_TEXT in v:
            # In-interval with text guidance; image guidance joins only when it ran.
            guided = combine(v[COND], v[NO_TEXT], v.get(NO_IMAGE), config)
        else:
            guided = v[COND]
        # Same dtype promotion as BAGEL: bf16 velocity x 0-dim float32 dt, then float32 x.
        x = x - guided.to(x.device) * dts[i]
    return x

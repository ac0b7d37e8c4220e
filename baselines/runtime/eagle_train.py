"""Reference training objective of :class:`~.eagle.EagleHead` (teacher-forced, EAGLE-1 style).

A trainer of a real head adds its own data, schedule and rollout terms; this module fixes
the *alignment* between target features, next-token embeddings and targets, which must
match what :class:`~.drafters.EagleHeadDrafter` feeds at decode time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .eagle import EagleHead


@torch.no_grad()
def target_features(
    model: nn.Module,
    feature_layers: tuple[int, ...],
    input_ids: torch.Tensor | None = None,
    inputs_embeds: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run a transformers target over full sequences.

    Args:
        model: the target (``*ForCausalLM`` or a VLM's text path via ``inputs_embeds``).
        feature_layers: ``hidden_states`` indices the head reads.
        input_ids: ``[B, T]`` ids, or None.
        inputs_embeds: ``[B, T, H]`` embeddings (image prefix + text), or None.

    Returns:
        ``(features [B, T, F], input embeddings [B, T, H], target logits [B, T, V])``.
    """
    decoder = model.get_decoder()
    if inputs_embeds is None:
        inputs_embeds = model.get_input_embeddings()(input_ids)
    out = decoder(inputs_embeds=inputs_embeds, output_hidden_states=True, use_cache=False)
    feats = torch.cat([out.hidden_states[i] for i in feature_layers], dim=-1)
    logits = model.get_output_embeddings()(out.last_hidden_state)
    return feats, inputs_embeds, logits


def eagle_loss(
    head: EagleHead,
    lm_head: nn.Module,
    features: torch.Tensor,
    embeds: torch.Tensor,
    target_logits: torch.Tensor,
    start: int = 0,
    hard: bool = False,
) -> torch.Tensor:
    """Soft cross-entropy of the head against the target's next-next-token distribution.

    The head at position ``t`` reads ``features[t]`` and ``embeds[t + 1]`` and is trained
    towards ``softmax(target_logits[t + 1])``, i.e. the target's distribution of token
    ``t + 2``.

    Args:
        head: the draft head being trained.
        lm_head: the target's (frozen) LM head.
        features: ``[B, T, F]`` from :func:`target_features`.
        embeds: ``[B, T, H]`` input embeddings of the same sequences.
        target_logits: ``[B, T, V]`` target logits.
        start: first position the loss covers (skip an image prefix the head will not see).
        hard: train towards the target's argmax token instead of its full distribution
            (sharper for greedy drafting when the target's distributions are flat).
    """
    b, t, _ = features.shape
    pos = torch.arange(start, t - 1, device=features.device).expand(b, -1)
    hidden = head(features[:, start:-1], embeds[:, start + 1 :], pos)
    logits = head.logits(hidden, lm_head).float()
    flat = logits.reshape(-1, logits.shape[-1])
    if hard:
        return F.cross_entropy(flat, target_logits[:, start + 1 :].argmax(-1).reshape(-1))
    soft = torch.softmax(target_logits[:, start + 1 :].float(), dim=-1)
    return F.cross_entropy(flat, soft.reshape(-1, soft.shape[-1]))


def chain_mask(steps: int, n: int) -> torch.Tensor:
    """Boolean attention mask over ``steps`` stacked blocks of ``n`` positions.

    Entry (s, i) is draft step ``s`` of the chain that starts after position ``i``: it sees
    step-1 entries (true target features) at positions ``j <= i`` and the chain's own
    earlier steps (s' <= s, same i), exactly the keys the head's cache holds when drafting.
    """
    s = torch.arange(steps).repeat_interleave(n)
    i = torch.arange(n).repeat(steps)
    first = (s[None, :] == 0) & (i[None, :] <= i[:, None])
    own = (s[None, :] <= s[:, None]) & (i[None, :] == i[:, None])
    return first | own


def unrolled_hidden(
    head: EagleHead, feats, embeds, start: int, steps: int, pos_offset: int = 0
) -> list[torch.Tensor]:
    """Head hidden states of ``steps`` unrolled draft steps for every chain start.

    Chain ``i`` starts after position ``c_i = start + i``; its step ``s`` (0-based) sits at
    position ``c_i + s``, reads the target feature at ``c_i`` (s = 0) or its own previous
    hidden state, embeds token ``c_i + s + 1`` and predicts token ``c_i + s + 2``.

    ``pos_offset`` is added to the position ids (sequences cut after an image prefix).

    Returns:
        One ``[B, T - 1 - start, H]`` tensor per step.
    """
    b, t, _ = feats.shape
    n = t - 1 - start
    base_pos = torch.arange(start, t - 1, device=feats.device)
    xs, pos, out = [], [], []
    for s in range(steps):
        emb_idx = (base_pos + s + 1).clamp(max=t - 1)
        f = feats[:, start : t - 1] if s == 0 else out[-1]
        if s == 0 and head.fc_features is not None:
            f = head.fc_features(f)
        xs.append(head.fuse(torch.cat([f, embeds[:, emb_idx]], dim=-1)))
        pos.append(base_pos + s + pos_offset)
        x = torch.cat(xs, dim=1)
        p = torch.cat(pos)[None].expand(b, -1)
        mask = chain_mask(s + 1, n).to(feats.device)[None, None]
        h = head.layer(
            x, attention_mask=mask, position_ids=p, position_embeddings=head.rotary(x, p)
        )
        out.append(h[:, s * n :])
    return out

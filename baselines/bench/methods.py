"""Decoding methods compared by the speculative-decoding benchmark (:mod:`.bench`).

Each method decodes one prompt at batch size 1 under the same stopping rule (max new
tokens, EOS) and returns the new token ids. Target forwards are counted by a forward hook on
the target's decoder for every method alike, so tau is measured the same way for our
runtime and for transformers' own assisted generation and prompt lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.drafters import DraftModelDrafter, EagleHeadDrafter
from hbench.baselines.runtime.eagle import EagleHead
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.lean import make_target
from hbench.baselines.runtime.speculative import speculative_decode
from hbench.baselines.runtime.target import Prompt

REFERENCE = "greedy"
METHODS: dict[str, str] = {
    "greedy": "ours: plain KV-cached greedy (the reference)",
    "spec-draft": "ours: chain speculative decoding, separate draft model",
    "spec-head": "ours: chain speculative decoding, EAGLE-style head (its draft vocabulary, if stored)",
    "spec-head-full": "ours: chain speculative decoding, EAGLE-style head onto the full vocabulary",
    "hf-greedy": "transformers generate(), greedy",
    "hf-assisted": "transformers generate(assistant_model=draft), greedy",
    "hf-pld": "transformers generate(prompt_lookup_num_tokens=n), greedy",
}


SCHEDULES = ("constant", "heuristic", "heuristic_transient")


def assistant_settings(spec: str) -> dict[str, Any]:
    """Assistant ``generation_config`` fields for an ``--assisted`` spec.

    Args:
        spec: ``default`` (transformers' defaults) or ``SCHEDULE:TOKENS:THRESHOLD`` with
            SCHEDULE one of :data:`SCHEDULES`; threshold 0 turns the confidence stop off.

    Raises:
        ValueError: a malformed spec.
    """
    if spec == "default":
        return {}
    parts = spec.split(":")
    try:
        if len(parts) != 3 or parts[0] not in SCHEDULES:
            raise ValueError
        tokens, threshold = int(parts[1]), float(parts[2])
    except ValueError as err:
        raise ValueError(
            f"--assisted {spec!r}: expected 'default' or SCHEDULE:TOKENS:THRESHOLD with "
            f"SCHEDULE in {', '.join(SCHEDULES)}, e.g. constant:6:0"
        ) from err
    return {
        "num_assistant_tokens_schedule": parts[0],
        "num_assistant_tokens": tokens,
        "assistant_confidence_threshold": threshold,
    }


@dataclass
class Models:
    """What the methods run on."""

    target: nn.Module
    draft: nn.Module | None
    head: EagleHead | None
    eos_token_id: int | None
    pad_token_id: int | None


class ForwardCount:
    """Counts forward calls of the target: its decoder (transformers, our hf forward) or our
    lean forward module, whichever a method calls (never both in one forward)."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.calls = 0
        self._handles = [m.register_forward_hook(self._hook) for m in modules]

    def _hook(self, *args: Any) -> None:
        self.calls += 1

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


Runner = Callable[[torch.Tensor], Any]


def _with_details(result: Any) -> tuple[list[int], dict[str, Any]]:
    """New token ids of one of our decodes, with its decode-phase time and draft acceptance."""
    stats = result.stats.as_dict()
    keep = ("decode_s", "drafted_per_position", "accepted_per_position")
    return result.token_ids, {k: stats[k] for k in keep if k in stats}


def target_modules(models: Models, runners_targets: list[Any]) -> list[nn.Module]:
    """Modules whose forward calls are target forwards, for :class:`ForwardCount`."""
    mods = {id(models.target.get_decoder()): models.target.get_decoder()}
    for t in runners_targets:
        mods[id(t.forward_module)] = t.forward_module
    return list(mods.values())


def build_runners(
    models: Models,
    methods: list[str],
    k: int,
    max_new: int,
    cache: str,
    pld_tokens: int,
    forward: str = "auto",
) -> tuple[dict[str, Runner], list[nn.Module]]:
    """One callable per method (prompt ids ``[P]`` -> new token ids) and the target-forward
    modules to count.

    Raises:
        ValueError: a method whose model (draft / head) was not given, or an unknown method.
    """
    eos = () if models.eos_token_id is None else (models.eos_token_id,)
    config = DecodeConfig(max_new_tokens=max_new, eos_token_ids=eos)
    plain = make_target(models.target, forward, cache)
    runners: dict[str, Runner] = {}
    targets = [plain]
    hf_kwargs = dict(
        max_new_tokens=max_new,
        do_sample=False,
        eos_token_id=models.eos_token_id,
        pad_token_id=models.pad_token_id,
    )

    def hf(extra: dict[str, Any]) -> Runner:
        def run(ids: torch.Tensor) -> list[int]:
            out = models.target.generate(
                ids[None], attention_mask=torch.ones_like(ids)[None], **hf_kwargs, **extra
            )
            return out[0, ids.shape[0] :].tolist()

        return run

    for name in methods:
        if name not in METHODS:
            raise ValueError(f"Unknown method {name!r}. Available: {', '.join(METHODS)}")
        if name in ("spec-draft", "hf-assisted") and models.draft is None:
            raise ValueError(f"method {name} needs a draft model (--draft)")
        if name in ("spec-head", "spec-head-full") and models.head is None:
            raise ValueError("method spec-head needs an EAGLE head (--head)")
        if name == "greedy":
            runners[name] = lambda ids: _with_details(
                plain_decode(plain, Prompt(input_ids=ids), config)
            )
        elif name == "spec-draft":
            drafter = DraftModelDrafter(models.draft, cache_kind=cache, forward=forward)
            runners[name] = lambda ids, d=drafter: _with_details(
                speculative_decode(plain, d, Prompt(input_ids=ids), config, k)
            )
        elif name in ("spec-head", "spec-head-full"):
            head_target = make_target(
                models.target, forward, cache, models.head.config.feature_layers
            )
            targets.append(head_target)
            drafter = EagleHeadDrafter(models.head, full_vocab=name == "spec-head-full")
            runners[name] = lambda ids, d=drafter, t=head_target: _with_details(
                speculative_decode(t, d, Prompt(input_ids=ids), config, k)
            )
        elif name == "hf-greedy":
            runners[name] = hf({})
        elif name == "hf-assisted":
            runners[name] = hf({"assistant_model": models.draft})
        else:
            runners[name] = hf({"prompt_lookup_num_tokens": pld_tokens})
    return runners, target_modules(models, targets)

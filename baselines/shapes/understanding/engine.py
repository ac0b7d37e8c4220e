"""Text engines of the shapes family: plain KV-cached greedy and EAGLE speculative decoding.

Both kinds decode through the shared runtime (:mod:`hbench.baselines.runtime`): the same
target adapter, KV cache and stopping rule, so a speedup comes from speculation only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hbench.baselines.runtime.decoding import Clock, DecodeConfig
from hbench.baselines.runtime.drafters import EagleHeadDrafter
from hbench.baselines.runtime.greedy import plain_decode
from hbench.baselines.runtime.lean import make_target
from hbench.baselines.runtime.speculative import speculative_decode
from hbench.baselines.runtime.target import Prompt
from hbench.harness.system import DRAFTER, LANGUAGE_MODEL, TextOutput

from .loading import load_head, load_target
from .model import image_tensor
from .tokenizer import prompt_ids
from .weights import HEAD_FILE, TARGET_FILE, WEIGHTS_DIR, read_manifest

KINDS: tuple[str, ...] = ("greedy", "spec")


class ShapesTextEngine:
    """Answers prompts about a 32x32 image with the trained shapes target.

    Args:
        kind: ``greedy`` (plain KV-cached greedy) or ``spec`` (EAGLE head, chain of ``k``).
        weights_dir: folder with the committed weights and manifest.
        k: draft tokens per verification (``spec`` only).
        cache_kind: runtime KV cache kind (``prealloc``, ``dynamic``, ``static``).
        forward: runtime target forward: ``auto`` (lean Llama forward), ``lean`` or ``hf``.
        clock: ``wall`` (the runtime's clock, CUDA-synchronised) or ``thread`` (CPU time of
            this thread: stage times that leave out waiting for a busy CPU; CPU only).
    """

    def __init__(
        self,
        kind: str,
        weights_dir: Path | None = None,
        k: int = 4,
        cache_kind: str = "prealloc",
        clock: str = "wall",
        forward: str = "auto",
    ):
        if kind not in KINDS:
            raise ValueError(f"unknown text engine kind {kind!r}; available: {', '.join(KINDS)}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if clock not in ("wall", "thread"):
            raise ValueError(f"clock must be 'wall' or 'thread', got {clock!r}")
        self.clock_kind = clock
        self.forward = forward
        self.kind = kind
        self.weights_dir = Path(weights_dir or WEIGHTS_DIR)
        self.k = k
        self.cache_kind = cache_kind
        self.model = self.tok = self.head = self.target = self.drafter = None

    def load(self, device: str, dtype: torch.dtype) -> None:
        """Load (checksum-verified) weights; the head only for ``spec``."""
        self.model, self.tok = load_target(self.weights_dir, dtype, device)
        layers = None
        if self.kind == "spec":
            self.head = load_head(self.weights_dir, dtype, device)
            self.drafter = EagleHeadDrafter(self.head, skip_prefix=True)
            layers = tuple(self.head.config.feature_layers)
        self.target = make_target(
            self.model.lm, self.forward, cache_kind=self.cache_kind, feature_layers=layers
        )
        self.device, self.dtype = device, dtype
        if self.clock_kind == "thread" and torch.device(device).type == "cuda":
            raise ValueError("clock='thread' measures CPU time; use clock='wall' on CUDA")
        self.clock = time.thread_time if self.clock_kind == "thread" else Clock(device)

    @torch.inference_mode()
    def understand(self, image: np.ndarray | None, prompt: str, max_new_tokens: int) -> TextOutput:
        """Greedy answer; ``token_ids`` are the generated ids (``<eos>`` kept when it ended)."""
        if self.model is None:
            raise RuntimeError("call load(device, dtype) before understand()")
        ids = torch.tensor(prompt_ids(self.tok, prompt), device=self.device)
        img = None if image is None else image_tensor(image).to(self.device, self.dtype)
        embeds = self.model.embed_prompt(img, ids[None])[0]
        p = Prompt(inputs_embeds=embeds, prefix_len=0 if img is None else self.model.prefix_len)
        cfg = DecodeConfig(max_new_tokens=max_new_tokens, eos_token_ids=(self.tok.eos_token_id,))
        if self.kind == "spec":
            res = speculative_decode(self.target, self.drafter, p, cfg, k=self.k, clock=self.clock)
        else:
            res = plain_decode(self.target, p, cfg, clock=self.clock)
        words = [t for t in res.token_ids if t != self.tok.eos_token_id]
        return res.to_text_output(self.tok.decode(words, skip_special_tokens=True))

    def modules(self) -> dict[str, torch.nn.Module]:
        """Profiler hooks: the decoder stack the runtime calls, and the draft head."""
        mods: dict[str, torch.nn.Module] = {LANGUAGE_MODEL: self.target.forward_module}
        if self.head is not None:
            mods[DRAFTER] = self.head
        return mods

    def describe(self) -> dict[str, Any]:
        files = read_manifest(self.weights_dir).get("files", {})
        d: dict[str, Any] = {
            "kind": self.kind,
            "forward": type(self.target).__name__ if self.target is not None else self.forward,
            "cache": getattr(self.target, "cache_kind", self.cache_kind),
            "clock": self.clock_kind,
            "target_sha256": files.get(TARGET_FILE, {}).get("sha256"),
            "target_config": files.get(TARGET_FILE, {}).get("config"),
        }
        if self.kind == "spec":
            d.update(
                k=self.k, head_sha256=files.get(HEAD_FILE, {}).get("sha256"), skip_image_prefix=True
            )
        return d

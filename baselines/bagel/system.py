"""One variant of the ``bagel`` family: the official BAGEL model driven by hbench's runtime.

Understanding decodes through :class:`~.target.BagelTarget` with the runtime's plain greedy
loop (``baseline``) or chain speculative decoding with an EAGLE-style head (``spec``).
Generation and editing build the eval scripts' KV contexts (:mod:`.contexts`) and run
:func:`~.generator.sample_latent` with the variant's sampler; ``nfe6`` / ``nfe1`` swap the
distilled tensors in around their calls; fused kernels are active around the calls of
``kernels`` (and of the accelerated variants when ``options.kernels``).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, ClassVar

import torch

from hbench.harness.system import (
    DRAFTER,
    EDIT,
    GENERATE,
    GENERATOR,
    LANGUAGE_MODEL,
    UNDERSTAND,
    TextOutput,
)

from .options import BagelOptions, check_options
from .schedule import nfe

ACCELERATED = ("spec", "nfe6", "nfe1")


def kernel_verify_greedy(draft_tokens: torch.Tensor, target_logits: torch.Tensor) -> Any:
    """The runtime's greedy acceptance rule through :func:`hbench.kernels.verify.verify_greedy`."""
    from hbench.baselines.runtime.speculative import VerifyResult
    from hbench.kernels.verify import verify_greedy

    v = verify_greedy(draft_tokens, target_logits)
    return VerifyResult(
        accepted=v.accepted_len, tokens=v.target_tokens[: v.accepted_len + 1].tolist()
    )


class BagelSystem:
    """A variant of BAGEL (see :data:`~.options.VARIANTS`); ``__init__`` checks paths only."""

    family: ClassVar[str] = "bagel"
    capabilities = frozenset({UNDERSTAND, GENERATE, EDIT})

    def __init__(self, variant: str, options: BagelOptions, pool: Any = None) -> None:
        check_options(variant, options)
        self.pool = pool  # a loading.ModelPool; None: the process-wide one
        self.variant = variant
        self.options = options
        self.use_kernels = variant == "kernels" or (variant in ACCELERATED and options.kernels)
        self.t2i_sampler, self.edit_sampler = options.samplers_for(variant)
        self.session: Any = None
        self.generator: Any = None
        self.target: Any = None
        self.drafter: Any = None
        self.swap: Any = None
        self.attention = "not loaded"

    # ---- loading -------------------------------------------------------------------------
    def load(self, device: str, dtype: torch.dtype) -> None:
        """Import the checkout, load (or share) the model, then this variant's parts."""
        from .generator import BagelGenerator
        from .loading import POOL, WeightSwap, distilled_tensors, prepare_attention
        from .target import BagelTarget

        o = self.options
        self.attention = prepare_attention(o.attention)
        pool = self.pool if self.pool is not None else POOL
        self.session = pool.get(o.checkout, o.weights, device, dtype, o.autocast)
        model = self.session.model
        self.generator = BagelGenerator(model)
        if self.variant in ("nfe6", "nfe1"):
            d = getattr(o, self.variant)
            self.swap = WeightSwap(model, distilled_tensors(model, d.weights, d.lora_scale))
        layers = None
        if self.variant == "spec":
            from hbench.baselines.runtime.drafters import EagleHeadDrafter
            from hbench.baselines.runtime.eagle import EagleHead

            head = EagleHead.load(o.head, device=device).to(dtype).eval()
            self.drafter = EagleHeadDrafter(head, skip_prefix=o.head_skip_prefix)
            layers = tuple(head.config.feature_layers)
        self.target = BagelTarget(self.session, feature_layers=layers)

    def _require_loaded(self) -> None:
        if self.session is None:
            raise RuntimeError(
                f"bagel:{self.variant} is not loaded: call load(device, dtype) first"
            )

    def _active(self) -> ExitStack:
        """Everything this variant changes, applied for the duration of one call."""
        from .loading import fused_norms

        stack = ExitStack()
        if self.swap is not None:
            stack.enter_context(self.swap.active())
        if self.use_kernels:
            stack.enter_context(fused_norms(self.session.model))
        return stack

    # ---- System protocol ------------------------------------------------------------------
    def understand(self, images: Sequence[Any], prompt: str, max_new_tokens: int) -> TextOutput:
        """Greedy answer as ``Bagel.chat`` gives it (max_length semantics per the options)."""
        from hbench.baselines.runtime.decoding import DecodeConfig
        from hbench.baselines.runtime.greedy import plain_decode
        from hbench.baselines.runtime.speculative import speculative_decode, verify_greedy

        self._require_loaded()
        s = self.session
        budget = max_new_tokens - 1 if self.options.max_length_semantics else max_new_tokens
        if budget < 1:  # chat(max_length=1) returns only the start token: empty text
            return TextOutput(text="", token_ids=[], stats={"new_tokens": 0})
        rgb = [s.code.data_utils.pil_img2rgb(im) for im in images]
        eos = int(s.new_token_ids["eos_token_id"])
        config = DecodeConfig(max_new_tokens=budget, eos_token_ids=(eos,))
        with self._active(), torch.no_grad():
            prompt_obj = self.target.prepare(rgb, prompt)
            if self.variant == "spec":
                verify = kernel_verify_greedy if self.use_kernels else verify_greedy
                result = speculative_decode(
                    self.target, self.drafter, prompt_obj, config, self.options.spec_k,
                    greedy_fn=verify,
                )  # fmt: skip
            else:
                result = plain_decode(self.target, prompt_obj, config)
        bos = int(s.new_token_ids["bos_token_id"])
        full = s.tokenizer.decode([bos, *result.token_ids])
        # Bagel.chat's post-processing, verbatim in effect.
        text = full.split("<|im_end|>")[0].split("<|im_start|>")[1]
        return result.to_text_output(text)

    def _sample(self, inputs: Any, sampler: Any) -> Any:
        from .generator import combine_kernel, combine_pytorch, sample_latent

        combine = combine_kernel if self.use_kernels else combine_pytorch
        with self._active(), self.session.amp():
            return sample_latent(self.generator, inputs, sampler, combine)

    def generate(self, prompt: str, seed: int) -> Any:
        """Text-to-image as ``eval/gen/gen_images_mp.py`` (batch size 1)."""
        from .contexts import decode_latent, t2i_inputs

        self._require_loaded()
        o = self.options
        with torch.no_grad():
            inputs = t2i_inputs(self.session, prompt, o.t2i_resolution, seed)
            latent = self._sample(inputs, self.t2i_sampler)
            image = decode_latent(self.session, latent, inputs.image_shape, amp=False)
        if o.t2i_crop_bbox:
            box = image.getbbox()
            if box is not None:
                image = image.crop(box)
        return image

    def edit(self, image: Any, instruction: str, seed: int) -> Any:
        """Editing as ``eval/gen/gedit/gen_images_gedit.py`` (ViT tokens on, no thinking)."""
        from .contexts import decode_latent, edit_inputs

        self._require_loaded()
        o = self.options
        rgb = self.session.code.data_utils.pil_img2rgb(image)
        with torch.no_grad():
            inputs = edit_inputs(
                self.session,
                rgb,
                instruction,
                seed,
                o.edit_max_size,
                o.edit_min_size,
                o.edit_use_vit,
            )
            latent = self._sample(inputs, self.edit_sampler)
            # The GEdit script decodes inside its bfloat16 autocast.
            return decode_latent(self.session, latent, inputs.image_shape, amp=True)

    def profiled_modules(self) -> dict[str, torch.nn.Module]:
        """``generator``: one call per CFG branch; ``language_model``: BAGEL's Qwen2Model."""
        self._require_loaded()
        mods = {
            GENERATOR: self.generator,
            LANGUAGE_MODEL: self.session.model.language_model.model,
        }
        if self.drafter is not None:
            mods[DRAFTER] = self.drafter.head
        return mods

    def describe(self) -> dict[str, Any]:
        o = self.options
        out: dict[str, Any] = {
            "family": self.family,
            "variant": self.variant,
            "checkout": o.checkout,
            "weights": o.weights,
            "attention": self.attention,
            "autocast": o.autocast,
            "kernels": self.use_kernels,
            "t2i": {**self.t2i_sampler.to_dict(), "nfe": nfe(self.t2i_sampler).nfe},
            "edit": {**self.edit_sampler.to_dict(), "nfe": nfe(self.edit_sampler).nfe},
            "t2i_resolution": o.t2i_resolution,
            "max_length_semantics": o.max_length_semantics,
        }
        if self.variant == "spec":
            out.update(head=o.head, spec_k=o.spec_k, head_skip_prefix=o.head_skip_prefix)
        if self.variant in ("nfe6", "nfe1"):
            d = getattr(o, self.variant)
            out.update(
                distilled_weights=d.weights, swapped_tensors=len(self.swap) if self.swap else None
            )
        if self.session is not None:
            from hbench.kernels.dispatch import DISPATCHER

            out["kernel_dispatch"] = DISPATCHER.report() if self.use_kernels else None
        return out

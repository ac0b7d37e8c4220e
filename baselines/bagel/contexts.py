"""Build the KV contexts of BAGEL's official evaluation scripts, and decode latents.

* :func:`t2i_inputs` follows ``generate_image`` in ``eval/gen/gen_images_mp.py`` at batch
  size 1: the prompt in the conditional context (prefilled under float16 autocast, as the
  script does), an empty context for the text-unconditional branch.
* :func:`edit_inputs` follows ``editing_with_text_img_cfg`` in
  ``eval/gen/gedit/gen_images_gedit.py`` with ``use_vit=True`` and ``use_think=False``:
  input image (VAE, then ViT tokens) then the instruction in the conditional context; the
  text-unconditional branch keeps the image but not the instruction; the image-unconditional
  branch has the instruction only.

Every random draw of a sample comes from its seed, in the scripts' order: :func:`seeded`
does what the GEdit script's ``set_seeds(seed)`` does to torch's generators for the duration of
one sample, then BAGEL's own code draws the VAE posterior sample (``forward_cache_update_vae``,
editing) and the flow noise (``prepare_vae_latent``, on the CPU) from them, and the caller's
generator states are restored afterwards. So ``edit(seed=s)`` gives the same image whatever the
global RNG did before, and equals the GEdit script's ``editing_with_text_img_cfg(seed=s)``;
text-to-image equals the GenEval script's ``generate_image`` after ``torch.manual_seed(s)``
(that script seeds once per process instead, so its noise depends on what ran before).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from .generator import Branch, FlowInputs
from .schedule import COND, NO_IMAGE, NO_TEXT


@dataclass
class Session:
    """A loaded BAGEL: model, VAE, tokenizer, special ids, transforms and its code."""

    model: Any
    vae: Any
    tokenizer: Any
    new_token_ids: dict[str, int]
    vae_transform: Any
    vit_transform: Any
    code: Any  # checkout.BagelCode
    device: str
    autocast: str  # "bfloat16" | "float16" | "off"
    und_transform: Any = None  # understanding (eval/vlm): vlm_sft transform; None: vit_transform

    def amp(self, dtype: str | None = None) -> AbstractContextManager:
        """Autocast as the scripts use it (``dtype`` overrides the session's).

        BAGEL's attention hands bfloat16 to its output projections, so with float32 weights
        it runs only under autocast; on CPU the same autocast is applied (the scripts'
        ``autocast("cuda")`` would be a no-op there).
        """
        name = dtype or self.autocast
        if name == "off":
            return nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=getattr(torch, name))

    def cache(self) -> Any:
        return self.code.navit.NaiveCache(self.model.config.llm_config.num_hidden_layers)

    def to_device(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in inputs.items()}


@contextmanager
def seeded(seed: int, device: str) -> Iterator[None]:
    """torch's CPU generator (and ``device``'s, on CUDA) seeded with ``seed`` inside the block,
    as the scripts' ``set_seeds`` leaves them; the previous states come back on exit."""
    dev = torch.device(device)
    cuda = []
    if dev.type == "cuda":
        cuda = [dev.index if dev.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        torch.random.default_generator.manual_seed(int(seed))
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(int(seed))
        yield


def _flow_inputs(
    s: Session,
    latent: dict[str, Any],
    shape: tuple[int, int],
    branches: dict[str, Branch],
) -> FlowInputs:
    latent = s.to_device(latent)
    return FlowInputs(
        packed_text_ids=latent["packed_text_ids"],
        packed_text_indexes=latent["packed_text_indexes"],
        packed_vae_token_indexes=latent["packed_vae_token_indexes"],
        packed_vae_position_ids=latent["packed_vae_position_ids"],
        packed_seqlens=latent["packed_seqlens"],
        # BAGEL's own draw (prepare_vae_latent, float32 on the CPU) from the seeded generator.
        noise=latent["packed_init_noises"][None],
        image_shape=shape,
        branches=branches,
    )


def _cond_branch(cache: Any, latent: dict[str, Any]) -> Branch:
    return Branch(
        past_key_values=cache,
        key_values_lens=latent["key_values_lens"],
        packed_key_value_indexes=latent["packed_key_value_indexes"],
        packed_position_ids=latent["packed_position_ids"],
        packed_query_indexes=latent["packed_indexes"],
    )


def _cfg_branch(s: Session, cache: Any, cfg: dict[str, Any]) -> Branch:
    cfg = s.to_device(cfg)
    return Branch(
        past_key_values=cache,
        key_values_lens=cfg["cfg_key_values_lens"],
        packed_key_value_indexes=cfg["cfg_packed_key_value_indexes"],
        packed_position_ids=cfg["cfg_packed_position_ids"],
        packed_query_indexes=cfg["cfg_packed_query_indexes"],
    )


def _prefill_text(s: Session, cache: Any, lens: list, rope: list, text: str, amp: str | None):
    inputs, lens, rope = s.model.prepare_prompts(
        curr_kvlens=lens, curr_rope=rope, prompts=[text], tokenizer=s.tokenizer,
        new_token_ids=s.new_token_ids,
    )  # fmt: skip
    with s.amp(amp):
        cache = s.model.forward_cache_update_text(cache, **s.to_device(inputs))
    return cache, lens, rope


@torch.no_grad()
def t2i_inputs(s: Session, prompt: str, resolution: int, seed: int) -> FlowInputs:
    """Contexts for text-to-image (GenEval script); image ``resolution`` x ``resolution``.

    The flow noise is drawn inside :func:`seeded` ``(seed)``.
    """
    with seeded(seed, s.device):
        return _t2i_inputs(s, prompt, resolution)


def _t2i_inputs(s: Session, prompt: str, resolution: int) -> FlowInputs:
    m = s.model
    shape = (resolution, resolution)
    # 1. Conditional context: the prompt (the script prefills it under float16 autocast).
    cache, lens, rope = _prefill_text(s, s.cache(), [0], [0], prompt, "float16")
    latent = s.to_device(
        m.prepare_vae_latent(curr_kvlens=lens, curr_rope=rope, image_sizes=[shape],
                             new_token_ids=s.new_token_ids)
    )  # fmt: skip
    # 2. Text-unconditional context: empty.
    cfg = m.prepare_vae_latent_cfg(curr_kvlens=[0], curr_rope=[0], image_sizes=[shape])
    branches = {COND: _cond_branch(cache, latent), NO_TEXT: _cfg_branch(s, s.cache(), cfg)}
    return _flow_inputs(s, latent, shape, branches)


def _make_divisible(value: float, stride: int) -> int:
    return max(stride, int(round(value / stride) * stride))


def edit_size(
    width: int, height: int, max_size: int, min_size: int, stride: int = 16
) -> tuple[int, int]:
    """Output ``(h, w)`` of the GEdit script for an input of ``width`` x ``height``.

    >>> edit_size(1000, 500, 1024, 512)
    (512, 1024)
    """

    def scaled(w: int, h: int, scale: float) -> tuple[int, int]:
        return _make_divisible(round(w * scale), stride), _make_divisible(round(h * scale), stride)

    scale = min(max_size / max(width, height), 1.0)
    scale = max(scale, min_size / min(width, height))
    w, h = scaled(width, height, scale)
    if max(w, h) > max_size:
        w, h = scaled(w, h, max_size / max(w, h))
    return h, w


@torch.no_grad()
def edit_inputs(
    s: Session, image: Any, instruction: str, seed: int, max_size: int, min_size: int, use_vit: bool
) -> FlowInputs:
    """Contexts for editing ``image`` with ``instruction`` (GEdit script).

    Inside :func:`seeded` ``(seed)``, as ``editing_with_text_img_cfg`` after ``set_seeds``: the
    VAE posterior sample of the input is drawn first, then the flow noise.
    """
    with seeded(seed, s.device):
        return _edit_inputs(s, image, instruction, max_size, min_size, use_vit)


def _edit_inputs(
    s: Session, image: Any, instruction: str, max_size: int, min_size: int, use_vit: bool
) -> FlowInputs:
    m = s.model
    h, w = edit_size(image.size[0], image.size[1], max_size, min_size)
    # 1. Input image: VAE latents, then (use_vit) ViT tokens.
    cache, lens, rope = s.cache(), [0], [0]
    vae_in, lens, rope = m.prepare_vae_images(
        curr_kvlens=lens, curr_rope=rope, images=[image], transforms=s.vae_transform,
        new_token_ids=s.new_token_ids, timestep=0.0,
    )  # fmt: skip
    with s.amp():
        cache = m.forward_cache_update_vae(s.vae, cache, **s.to_device(vae_in))
    if use_vit:
        vit_in, lens, rope = m.prepare_vit_images(
            curr_kvlens=lens, curr_rope=rope, images=[image], transforms=s.vit_transform,
            new_token_ids=s.new_token_ids,
        )  # fmt: skip
        with s.amp():
            cache = m.forward_cache_update_vit(cache, **s.to_device(vit_in))
    # 2. Text-unconditional branch: the image context without the instruction.
    no_text_cache = copy.deepcopy(cache)
    no_text_cfg = m.prepare_vae_latent_cfg(curr_kvlens=lens, curr_rope=rope, image_sizes=[(h, w)])
    # 3. Conditional branch: image + instruction.
    cache, lens, rope = _prefill_text(s, cache, lens, rope, instruction, None)
    latent = s.to_device(
        m.prepare_vae_latent(curr_kvlens=lens, curr_rope=rope, image_sizes=[(h, w)],
                             new_token_ids=s.new_token_ids)
    )  # fmt: skip
    # 4. Image-unconditional branch: the instruction alone.
    no_img_cache, img_lens, img_rope = _prefill_text(s, s.cache(), [0], [0], instruction, None)
    no_img_cfg = m.prepare_vae_latent_cfg(
        curr_kvlens=img_lens, curr_rope=img_rope, image_sizes=[(h, w)]
    )
    branches = {
        COND: _cond_branch(cache, latent),
        NO_TEXT: _cfg_branch(s, no_text_cache, no_text_cfg),
        NO_IMAGE: _cfg_branch(s, no_img_cache, no_img_cfg),
    }
    return _flow_inputs(s, latent, (h, w), branches)


@torch.no_grad()
def decode_latent(s: Session, latent: torch.Tensor, shape: tuple[int, int], amp: bool) -> Any:
    """``[1, L, C]`` latent -> PIL image (``inferencer.decode_image``'s reshape, then the VAE)."""
    from PIL import Image

    m = s.model
    hh, ww = shape[0] // m.latent_downsample, shape[1] // m.latent_downsample
    p, c = m.latent_patch_size, m.latent_channel
    lat = latent[0].reshape(1, hh, ww, p, p, c)
    lat = torch.einsum("nhwpqc->nchpwq", lat).reshape(1, c, hh * p, ww * p)
    with s.amp() if amp else nullcontext():
        img = s.vae.decode(lat.to(s.device))
    arr = ((img * 0.5 + 0.5).clamp(0, 1)[0].permute(1, 2, 0) * 255).to(torch.uint8).cpu().numpy()
    return Image.fromarray(arr)

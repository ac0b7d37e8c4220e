"""Loading a transformers LM / VLM from a local folder and turning requests into runtime prompts.

The image path is model-agnostic: the VLM's own forward merges image features into the
input embeddings; a pre-hook on its text decoder captures those embeddings (and explicit
positions, for multimodal RoPE) and stops the call before any decoder work. The runtime
then decodes from that prefix exactly as for a text prompt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hbench.baselines.runtime.target import Prompt


class _Captured(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__("decoder inputs captured")
        self.kwargs = kwargs


def is_vlm_folder(path: Path) -> bool:
    """Whether a saved model folder holds a vision-language model (a ``vision_config``)."""
    cfg = path / "config.json"
    if not cfg.is_file():
        raise FileNotFoundError(f"not a transformers model folder (no config.json): {path}")
    try:
        data = json.loads(cfg.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{cfg}: invalid JSON at line {err.lineno}: {err.msg}") from err
    return "vision_config" in data


def load_model(
    path: str | Path,
    device: str,
    dtype: torch.dtype,
    model_class: str = "",
    trust_remote_code: bool = False,
) -> tuple[nn.Module, Any, bool]:
    """Load ``(model, tokenizer-or-processor, is_vlm)`` from a local folder (no hub access).

    Args:
        path: folder written by ``save_pretrained``.
        device: torch device string.
        dtype: weights dtype.
        model_class: a transformers class name to force (e.g. ``LlavaForConditionalGeneration``);
            empty: ``AutoModelForImageTextToText`` for VLMs, ``AutoModelForCausalLM`` otherwise.
        trust_remote_code: passed to transformers (off unless configured).
    """
    import transformers

    path = Path(path)
    vlm = is_vlm_folder(path)
    if model_class:
        cls = getattr(transformers, model_class, None)
        if cls is None:
            raise ValueError(f"model_class {model_class!r} is not a transformers class")
    else:
        cls = transformers.AutoModelForImageTextToText if vlm else transformers.AutoModelForCausalLM
    kw = dict(local_files_only=True, trust_remote_code=trust_remote_code)
    model = cls.from_pretrained(str(path), dtype=dtype, **kw).to(device).eval()
    if vlm:
        proc = transformers.AutoProcessor.from_pretrained(str(path), **kw)
    else:
        proc = load_tokenizer(path, trust_remote_code)
    return model, proc, vlm


def load_tokenizer(path: Path, trust_remote_code: bool = False) -> Any:
    """The folder's tokenizer, exactly as its ``tokenizer.json`` defines it when it says so.

    transformers 5's ``AutoTokenizer`` prefers the model type's tokenizer class (e.g. a
    byte-level ``Qwen2Tokenizer``) over a generic ``tokenizer.json``; a folder whose
    ``tokenizer_config.json`` names the generic backend is loaded with it instead.
    """
    import transformers

    kw = dict(local_files_only=True, trust_remote_code=trust_remote_code)
    cfg = path / "tokenizer_config.json"
    declared = ""
    if cfg.is_file():
        try:
            declared = json.loads(cfg.read_text()).get("tokenizer_class", "") or ""
        except json.JSONDecodeError as err:
            raise ValueError(f"{cfg}: invalid JSON at line {err.lineno}: {err.msg}") from err
    if declared in ("TokenizersBackend", "PreTrainedTokenizerFast"):
        return transformers.PreTrainedTokenizerFast.from_pretrained(str(path), **kw)
    return transformers.AutoTokenizer.from_pretrained(str(path), **kw)


def tokenizer_of(proc: Any) -> Any:
    """The text tokenizer of a tokenizer or processor."""
    return getattr(proc, "tokenizer", proc)


def _chat(proc: Any, content: Any) -> str:
    msgs = [{"role": "user", "content": content}]
    return proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)


@torch.no_grad()
def text_prompt(tokenizer: Any, text: str, chat_template: bool, device: str) -> Prompt:
    """Token ids of a text prompt (special tokens as the tokenizer adds them)."""
    if chat_template:
        text = _chat(tokenizer, text)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer(text)["input_ids"]
    return Prompt(input_ids=torch.tensor(ids, dtype=torch.long, device=device))


@torch.no_grad()
def vlm_prompt(
    model: nn.Module,
    processor: Any,
    images: Sequence[Any],
    text: str,
    chat_template: bool,
    device: str,
) -> Prompt:
    """Merged input embeddings of an image+text prompt, via the VLM's own forward.

    Image placeholders are added in front of the text unless the text already has them.
    """
    image_token = getattr(processor, "image_token", None)
    if chat_template:
        content = [{"type": "image"} for _ in images] + [{"type": "text", "text": text}]
        text = _chat(processor, content)
    elif images and image_token and image_token not in text:
        text = " ".join([image_token] * len(images) + [text])
    kwargs = {"images": list(images)} if images else {}
    batch = processor(text=text, return_tensors="pt", **kwargs)
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    ids = batch["input_ids"][0]
    if "pixel_values" in batch:
        batch["pixel_values"] = batch["pixel_values"].to(model.dtype)

    def grab(module: nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        raise _Captured(kwargs)

    handle = model.get_decoder().register_forward_pre_hook(grab, with_kwargs=True)
    try:
        model(**batch, use_cache=False)
    except _Captured as cap:
        captured = cap.kwargs
    else:
        raise RuntimeError(f"{type(model).__name__} never called its text decoder")
    finally:
        handle.remove()
    embeds = captured["inputs_embeds"][0]
    pos = captured.get("position_ids")
    if pos is not None:
        pos = pos[:, 0] if pos.dim() == 3 else pos[0]  # [R, B, P] -> [R, P]; [B, P] -> [P]
    image_id = getattr(model.config, "image_token_id", None)
    is_image = ids == image_id if image_id is not None else torch.zeros_like(ids, dtype=torch.bool)
    prefix = int(is_image.nonzero().max().item()) + 1 if is_image.any() else 0
    return Prompt(
        inputs_embeds=embeds, prefix_len=prefix, draft_ids=ids[~is_image], position_ids=pos
    )


@torch.no_grad()
def continuation_logprob(
    model: nn.Module, context: list[int], continuation: list[int]
) -> tuple[float, bool]:
    """Log-probability of ``continuation`` after ``context`` and whether it is the greedy path."""
    if not continuation:
        raise ValueError("empty continuation")
    ids = (context + continuation)[-model.config.get_text_config().max_position_embeddings :]
    inp = torch.tensor([ids[:-1]], device=model.device)
    logits = model(input_ids=inp).logits[0, -len(continuation) :].float()
    logp = torch.log_softmax(logits, dim=-1)
    cont = torch.tensor(continuation, device=logits.device)
    total = float(logp.gather(-1, cont[:, None]).sum().item())
    greedy = bool((logits.argmax(dim=-1) == cont).all().item())
    return total, greedy

"""VIEScore with a local chat vision-language model loaded through transformers.

Any image-text-to-text model whose processor has a chat template works (the official
GEdit-Bench judges are GPT-4.1 and Qwen2.5-VL-72B-Instruct; a local Qwen2.5-VL is the
usual choice here). Messages follow the Qwen2.5-VL judge of GEdit-Bench: one user turn
with the images first, then the prompt text. Decoding is greedy with 512 new tokens as
there; a retry (attempt > 0) samples with ``retry_temperature`` and a per-attempt seed,
because greedy decoding would only repeat the same unparseable answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from .base import ChatJudge


@dataclass(frozen=True)
class VLMJudgeOptions:
    """Options of the ``vlm`` judge."""

    path: str = ""  # local directory with the model and its processor (required)
    device: str = "cpu"
    dtype: str = "auto"  # torch dtype name or "auto" (the checkpoint's)
    max_new_tokens: int = 512
    max_attempts: int = 3
    retry_temperature: float = 0.7
    seed: int = 42  # the official Qwen judge seeds every call with 42
    parsing: str = "strict"  # strict (hbench's) | viescore (official lenient loop, may guess)
    trust_remote_code: bool = False


class VLMJudge(ChatJudge):
    """``vlm``: a transformers chat VLM from a local path."""

    name = "vlm"
    Options = VLMJudgeOptions

    def __init__(self, options: VLMJudgeOptions | None = None) -> None:
        super().__init__(options)
        self.model: Any = None
        self.processor: Any = None
        # What each chat turn fed the model (image count, vision grid rows, prompt tokens):
        # evidence that the images reached the model, kept for tests and debugging.
        self.call_log: list[dict[str, int]] = []

    def check(self) -> None:
        """Validate options before any weights load."""
        opts = self.options
        if not opts.path:
            raise ValueError("vlm judge: set judge option 'path' to a local model directory")
        if not Path(opts.path).is_dir():
            raise FileNotFoundError(f"vlm judge: model directory {opts.path!r} does not exist")
        if opts.max_attempts < 1 or opts.max_new_tokens < 1:
            raise ValueError("vlm judge: max_attempts and max_new_tokens must be >= 1")

    def load(self) -> None:
        """Load the processor and model from ``path`` (local files only)."""
        if self.model is not None:
            return
        self.check()
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        opts = self.options
        dtype = "auto" if opts.dtype == "auto" else getattr(torch, opts.dtype)
        self.processor = AutoProcessor.from_pretrained(
            opts.path, local_files_only=True, trust_remote_code=opts.trust_remote_code
        )
        if getattr(self.processor, "chat_template", None) is None:
            raise ValueError(f"vlm judge: the processor in {opts.path!r} has no chat template")
        self.model = AutoModelForImageTextToText.from_pretrained(
            opts.path, local_files_only=True, dtype=dtype, trust_remote_code=opts.trust_remote_code
        ).to(opts.device)
        self.model.eval()

    def identity(self) -> dict[str, Any]:
        """The local model (from its config.json) and the decoding of each attempt."""
        from ..protocols import local_model_identity

        opts = self.options
        return {
            "judge": self.name,
            **local_model_identity(opts.path),
            "dtype": opts.dtype,
            "decoding": {"attempt_1": "greedy", "max_new_tokens": opts.max_new_tokens,
                         "retries": {"temperature": opts.retry_temperature, "top_p": 1.0,
                                     "seed": f"{opts.seed} + attempt"},
                         "max_attempts": opts.max_attempts, "parsing": opts.parsing},
        }  # fmt: skip

    def messages(self, images: list[Image.Image], text: str) -> list[dict[str, Any]]:
        """One user turn: the images, then the prompt text."""
        content: list[dict[str, Any]] = [
            {"type": "image", "image": im.convert("RGB")} for im in images
        ]
        content.append({"type": "text", "text": text})
        return [{"role": "user", "content": content}]

    def chat(self, images: list[Image.Image], text: str, attempt: int) -> str:
        """Greedy answer on the first attempt, seeded sampling on retries."""
        import torch

        self.load()
        inputs = self.processor.apply_chat_template(
            self.messages(images, text),
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        ).to(self.options.device)
        gen: dict[str, Any] = {"max_new_tokens": self.options.max_new_tokens}
        if attempt == 0:
            gen["do_sample"] = False
        else:
            gen.update(do_sample=True, temperature=self.options.retry_temperature, top_p=1.0)
        torch.manual_seed(self.options.seed + attempt)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **gen)
        grid = inputs.get("image_grid_thw")
        self.call_log.append({
            "images": len(images),
            "vision_rows": int(grid.shape[0]) if grid is not None else -1,
            "input_tokens": int(inputs["input_ids"].shape[1]),
            "attempt": attempt,
        })  # fmt: skip
        new = out[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new, skip_special_tokens=True)[0]

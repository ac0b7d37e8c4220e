"""VIEScore through an OpenAI-compatible chat-completions endpoint (off by default).

The request follows GEdit-Bench's GPT-4.1 judge: one user message whose content is the
prompt text followed by the images as base64 ``image_url`` parts, ``max_tokens`` 1400.
Images are sent as JPEG at Pillow's default quality, as the official client encodes them
(``image_format: png`` sends them losslessly instead).

The base URL and key come from the options or the environment (``OPENAI_BASE_URL``,
``OPENAI_API_KEY``; the variable names are options too). Nothing is sent unless a run
names this judge. Uses only the standard library's HTTP client.
"""

from __future__ import annotations

import base64
import io
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .base import ChatJudge


@dataclass(frozen=True)
class OpenAIJudgeOptions:
    """Options of the ``openai`` judge."""

    model: str = "gpt-4.1"
    base_url: str = ""  # empty: read from the variable named by base_url_env
    base_url_env: str = "OPENAI_BASE_URL"
    api_key_env: str = "OPENAI_API_KEY"
    max_tokens: int = 1400
    timeout_s: float = 120.0
    max_attempts: int = 3
    image_format: str = "jpeg"  # jpeg (the official client's) | png
    parsing: str = "strict"  # strict (hbench's) | viescore (official lenient loop, may guess)


IMAGE_FORMATS = ("jpeg", "png")


def encode_image(image: Image.Image, fmt: str = "jpeg") -> str:
    """A ``data:image/<fmt>;base64,...`` URL of an image."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(
            f"openai judge: image_format must be one of {', '.join(IMAGE_FORMATS)}, got {fmt!r}"
        )
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format=fmt.upper())
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIJudge(ChatJudge):
    """``openai``: any OpenAI-compatible chat endpoint with vision input."""

    name = "openai"
    Options = OpenAIJudgeOptions

    def __init__(self, options: OpenAIJudgeOptions | None = None) -> None:
        super().__init__(options)
        self.url = ""
        self._key = ""
        self.served_model: str | None = None  # the "model" field of the last reply

    def load(self) -> None:
        """Resolve the endpoint and key (raises if either is missing)."""
        opts = self.options
        base = opts.base_url or os.environ.get(opts.base_url_env, "")
        if not base:
            raise ValueError(
                f"openai judge: no endpoint; set judge option 'base_url' or ${opts.base_url_env}"
            )
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"openai judge: base URL {base!r} must start with http:// or https://")
        encode_image(Image.new("RGB", (1, 1)), opts.image_format)  # reject a bad format early
        key = os.environ.get(opts.api_key_env, "")
        if not key:
            raise ValueError(f"openai judge: no API key; set ${opts.api_key_env}")
        self.url = base.rstrip("/") + "/chat/completions"
        self._key = key

    def payload(self, images: list[Image.Image], text: str) -> dict[str, Any]:
        """The JSON body of one request."""
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        fmt = self.options.image_format
        content += [
            {"type": "image_url", "image_url": {"url": encode_image(im, fmt)}} for im in images
        ]
        return {
            "model": self.options.model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": self.options.max_tokens,
        }

    def chat(self, images: list[Image.Image], text: str, attempt: int) -> str:
        """POST one request; HTTP and connection failures raise ``OSError``."""
        if not self.url:
            self.load()
        body = json.dumps(self.payload(images, text)).encode("utf-8")
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._key}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.options.timeout_s) as resp:
                reply = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as err:  # a subclass of OSError: keep the server's words
            detail = err.read().decode("utf-8", "replace")[:300]
            raise OSError(f"HTTP {err.code} from {self.url}: {detail}") from err
        except json.JSONDecodeError as err:
            raise OSError(f"non-JSON reply from {self.url}: {err}") from err
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as err:
            raise OSError(
                f"reply from {self.url} has no choices[0].message.content: {str(reply)[:300]}"
            ) from err
        served = reply.get("model") if isinstance(reply, dict) else None
        self.served_model = served if isinstance(served, str) else None
        return content if isinstance(content, str) else json.dumps(content)

    def identity(self) -> dict[str, Any]:
        """Requested and served model, and the decoding sent (no key, no URL secrets)."""
        opts = self.options
        return {
            "judge": self.name,
            "model": opts.model,
            "served_model": self.served_model,
            "decoding": {"max_tokens": opts.max_tokens, "temperature": "server default",
                         "image_format": opts.image_format, "max_attempts": opts.max_attempts,
                         "parsing": opts.parsing},
        }  # fmt: skip

"""The ``hf`` family: any transformers causal LM or VLM from a local folder.

==========  ======================================================================
variant     decoding
==========  ======================================================================
baseline    plain KV-cached decoding (greedy unless ``temperature`` > 0)
spec        chain speculative decoding with ``spec_k`` drafts per round, drafted by a
            separate model (``draft_path``) or an EAGLE-style head (``head_path``)
==========  ======================================================================

Both variants use the same runtime target adapter and KV cache, so a speedup comes from
speculation only. Loglikelihood scoring (for lm-eval) is a plain forward, identical for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import torch

from hbench.harness.system import DRAFTER, LANGUAGE_MODEL, UNDERSTAND, CapabilityError, TextOutput

VARIANTS: dict[str, str] = {
    "baseline": "plain KV-cached greedy decoding of the target",
    "spec": "chain speculative decoding (draft model or EAGLE-style head), same output",
}


@dataclass(frozen=True)
class HFOptions:
    """Options of the hf family (local folders only; nothing is fetched from a hub).

    Attributes:
        path: Target model folder (``save_pretrained``): a causal LM or a VLM, or
            ``fetched:NAME`` for a model prepared by ``hbench models fetch NAME``.
        model_class: transformers class name to force; empty: chosen from ``config.json``.
        draft_path: Draft model for ``spec`` (same tokenizer as the target): a model folder,
            or a trimmed draft ``.safetensors`` built on the target's embedding
            (see hf/draft_model.py; e.g. ``shipped:smollm2-draft``).
        head_path: EAGLE head ``.safetensors`` for ``spec`` (see runtime/eagle.py).
        head_skip_prefix: The head does not run over image positions (as it was trained).
        head_full_vocab: Project the head onto the whole vocabulary even when it stores a
            draft vocabulary (for measuring what the draft vocabulary saves).
        spec_k: Draft tokens per verification.
        forward: Target forward: ``lean`` (hand-rolled loop over the same weights, Llama/
            Mistral/Qwen2/Qwen3 decoders), ``hf`` (transformers' forward) or ``auto``.
        cache: KV cache kind of the ``hf`` forward: ``prealloc``, ``dynamic`` or ``static``.
        chat_template: Wrap prompts with the tokenizer's / processor's chat template.
        temperature: 0 greedy; > 0 sampling (speculative rejection sampling in ``spec``).
        top_p: Nucleus mass when sampling.
        seed: Seed of the sampling generator (re-seeded per call: calls are reproducible).
        stop_strings: Generation ends when the new text contains one of these.
        trust_remote_code: Allow model code from the folder (off unless configured).
    """

    path: str = ""
    model_class: str = ""
    draft_path: str = ""
    head_path: str = ""
    head_skip_prefix: bool = False
    head_full_vocab: bool = False
    spec_k: int = 4
    forward: str = "auto"
    cache: str = "prealloc"
    chat_template: bool = False
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop_strings: tuple[str, ...] = field(default_factory=tuple)
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.spec_k <= 32:
            raise ValueError(f"spec_k must be in 1..32, got {self.spec_k}")
        if self.forward not in ("auto", "lean", "hf"):
            raise ValueError(f"forward must be auto, lean or hf, got {self.forward!r}")
        if self.cache not in ("prealloc", "dynamic", "static"):
            raise ValueError(f"cache must be prealloc, dynamic or static, got {self.cache!r}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(
                f"bad sampling settings temperature={self.temperature} top_p={self.top_p}"
            )
        object.__setattr__(self, "stop_strings", tuple(self.stop_strings))


def check_options(variant: str, options: HFOptions) -> None:
    """Validate paths before any weights load."""
    from .draft_model import is_trimmed

    if variant not in VARIANTS:
        raise ValueError(f"Unknown hf variant {variant!r}. Available: {', '.join(VARIANTS)}")
    if not options.path:
        raise ValueError("hf family: set system.options.path to a local model folder")
    if not Path(options.path, "config.json").is_file():
        raise FileNotFoundError(f"hf family: no config.json in path {options.path!r}")
    if variant == "spec":
        if bool(options.draft_path) == bool(options.head_path):
            raise ValueError(
                "hf:spec needs exactly one drafter: system.options.draft_path (a draft model "
                "folder) or system.options.head_path (an EAGLE head .safetensors)"
            )
        draft = options.draft_path
        if draft and not (Path(draft, "config.json").is_file() or is_trimmed(draft)):
            raise FileNotFoundError(
                f"hf:spec: draft_path {draft!r} is neither a model folder with config.json "
                "nor a trimmed draft .safetensors"
            )
        if options.head_path and not Path(options.head_path).is_file():
            raise FileNotFoundError(f"hf:spec: head_path {options.head_path!r} is not a file")


class HFSystem:
    """One variant of the hf family (text in, text out; images for VLMs)."""

    family: ClassVar[str] = "hf"
    capabilities = frozenset({UNDERSTAND})

    def __init__(self, variant: str, options: HFOptions) -> None:
        from .fetch import resolve_model_path

        # "fetched:NAME" names a folder prepared by `hbench models fetch NAME`; "shipped:NAME"
        # weights that ship in the package (the SmolLM2 head).
        options = replace(
            options,
            path=resolve_model_path(options.path),
            draft_path=resolve_model_path(options.draft_path),
            head_path=resolve_model_path(options.head_path),
        )
        check_options(variant, options)
        self.variant = variant
        self.options = options
        self.model: Any = None
        self.proc: Any = None
        self.vlm = False
        self.target: Any = None
        self.drafter: Any = None
        self.device = "cpu"

    # ---- loading -------------------------------------------------------------------------
    def load(self, device: str, dtype: torch.dtype) -> None:
        from hbench.baselines.runtime.lean import make_target

        from .engine import load_model

        o = self.options
        self.device = device
        self.model, self.proc, self.vlm = load_model(
            o.path, device, dtype, o.model_class, o.trust_remote_code
        )
        layers = None
        if self.variant == "spec":
            self.drafter = self._load_drafter(device, dtype)
            layers = self.drafter.feature_layers
        self.target = make_target(self.model, o.forward, o.cache, layers)

    def _load_drafter(self, device: str, dtype: torch.dtype) -> Any:
        from hbench.baselines.runtime.drafters import DraftModelDrafter, EagleHeadDrafter
        from hbench.baselines.runtime.eagle import EagleHead

        from .draft_model import load_draft

        o = self.options
        if o.head_path:
            head = EagleHead.load(o.head_path, device=device).to(dtype).eval()
            return EagleHeadDrafter(
                head, skip_prefix=o.head_skip_prefix, full_vocab=o.head_full_vocab
            )
        draft = load_draft(o.draft_path, self.model, o.trust_remote_code)
        return DraftModelDrafter(draft, cache_kind=o.cache, forward=o.forward)

    def _require_loaded(self) -> None:
        if self.model is None:
            raise RuntimeError(f"hf:{self.variant} is not loaded: call load(device, dtype) first")

    # ---- decoding ------------------------------------------------------------------------
    def _prompt(self, images: Sequence[Any], text: str) -> Any:
        from .engine import text_prompt, tokenizer_of, vlm_prompt

        if self.vlm:
            return vlm_prompt(
                self.model, self.proc, images, text, self.options.chat_template, self.device
            )
        if images:
            raise CapabilityError(
                f"hf:{self.variant} loaded a text-only model from {self.options.path}; "
                "it cannot take images"
            )
        return text_prompt(tokenizer_of(self.proc), text, self.options.chat_template, self.device)

    def generate_text(
        self,
        images: Sequence[Any],
        prompt: str,
        max_new_tokens: int,
        stop_strings: Sequence[str] = (),
    ) -> TextOutput:
        """Decode with extra stop strings (lm-eval's ``until``); text is cut before a stop string."""
        from hbench.baselines.runtime.decoding import DecodeConfig
        from hbench.baselines.runtime.greedy import plain_decode
        from hbench.baselines.runtime.speculative import speculative_decode

        from .engine import tokenizer_of

        self._require_loaded()
        o = self.options
        tok = tokenizer_of(self.proc)
        stops = tuple(o.stop_strings) + tuple(stop_strings)
        eos = tok.eos_token_id
        config = DecodeConfig(
            max_new_tokens=max_new_tokens,
            temperature=o.temperature,
            top_p=o.top_p,
            eos_token_ids=() if eos is None else (eos,),
            stop_strings=stops,
        )

        def decode(ids: list[int]) -> str:
            return tok.decode(ids, skip_special_tokens=True)

        gen = None
        if not config.greedy:
            gen = torch.Generator(device=self.device).manual_seed(o.seed)
        prompt_obj = self._prompt(images, prompt)
        if self.variant == "spec":
            result = speculative_decode(
                self.target, self.drafter, prompt_obj, config, o.spec_k, decode, gen
            )
        else:
            result = plain_decode(self.target, prompt_obj, config, decode, gen)
        text = decode(result.token_ids)
        for s in stops:
            if s in text:
                text = text[: text.index(s)]
        return result.to_text_output(text)

    def understand(self, images: Sequence[Any], prompt: str, max_new_tokens: int) -> TextOutput:
        return self.generate_text(images, prompt, max_new_tokens)

    def generate(self, prompt: str, seed: int) -> Any:
        raise CapabilityError(f"hf:{self.variant} does not generate images")

    def edit(self, image: Any, instruction: str, seed: int) -> Any:
        raise CapabilityError(f"hf:{self.variant} does not edit images")

    # ---- scoring (lm-eval loglikelihood) ---------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        from .engine import tokenizer_of

        self._require_loaded()
        return tokenizer_of(self.proc)(text, add_special_tokens=False)["input_ids"]

    @property
    def max_length(self) -> int:
        """Longest sequence the target accepts (for lm-eval's rolling windows)."""
        self._require_loaded()
        return int(self.model.config.get_text_config().max_position_embeddings)

    @property
    def eot_token_id(self) -> int:
        from .engine import tokenizer_of

        tok = tokenizer_of(self.proc)
        return tok.eos_token_id if tok.eos_token_id is not None else tok.bos_token_id

    def loglikelihood(self, context: list[int], continuation: list[int]) -> tuple[float, bool]:
        """``(log p(continuation | context), is_greedy)`` from one plain forward of the target."""
        from .engine import continuation_logprob

        self._require_loaded()
        return continuation_logprob(self.model, context, continuation)

    # ---- harness -------------------------------------------------------------------------
    def profiled_modules(self) -> dict[str, torch.nn.Module]:
        self._require_loaded()
        mods = {LANGUAGE_MODEL: self.target.forward_module}
        if self.drafter is not None:
            mods[DRAFTER] = getattr(self.drafter, "head", None) or self.drafter.model
        return mods

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"variant": self.variant, **asdict(self.options)}
        d["stop_strings"] = list(self.options.stop_strings)
        if self.target is not None:  # what "auto" resolved to
            d["forward_used"] = type(self.target).__name__
        if self.variant == "baseline":
            for key in ("draft_path", "head_path", "head_skip_prefix", "head_full_vocab", "spec_k"):
                d.pop(key)
        return d


class HFFamily:
    """Registry entry ``hf``: builds :class:`HFSystem` variants."""

    name: ClassVar[str] = "hf"
    variants: ClassVar[dict[str, str]] = VARIANTS
    reference: ClassVar[str] = "baseline"
    Options: ClassVar[type] = HFOptions

    @classmethod
    def build(cls, variant: str, options: HFOptions) -> HFSystem:
        return HFSystem(variant, options)

    @classmethod
    def required_paths(cls, variant: str, options: HFOptions) -> list[Any]:
        """Every path ``variant`` reads, for ``hbench run --check``, with ``fetched:`` and
        ``shipped:`` names resolved (a model not fetched yet says which command fetches it)."""
        from hbench.harness.paths import RequiredPath

        from .fetch import resolve_model_path

        out = []
        for key, what in (("path", "model folder"), ("draft_path", "draft model folder"),
                          ("head_path", "EAGLE head")):  # fmt: skip
            value = getattr(options, key)
            if key != "path" and (variant != "spec" or not value):
                continue
            try:
                resolved = resolve_model_path(value)
            except (FileNotFoundError, ValueError) as err:
                resolved, what = value, f"{what} ({err})"
            out.append(RequiredPath(f"system.options.{key}", resolved, what))
        return out

"""The lm-eval model ``hbench``: an lm-eval ``LM`` backed by one hbench system variant.

Importing this module imports lm-eval; only the ``hbench lm-eval`` front end
(:mod:`hbench.lm_eval_cli`) imports it, so ``hbench list`` and the rest of the CLI stay light.
"""

from __future__ import annotations

import typing
from typing import Any

from lm_eval.api.model import LM

from hbench.harness import plugins
from hbench.harness.config import _Located, build_dataclass

_DTYPES = ("float32", "bfloat16", "float16")


def _options(family: Any, raw: dict[str, Any]) -> Any:
    """Build the family's Options from lm-eval's parsed ``key=value`` pairs."""
    hints = typing.get_type_hints(family.Options)
    fixed: dict[str, Any] = {}
    for key, value in raw.items():
        tp = hints.get(key)
        # lm-eval turns "123" / "true" into numbers / booleans; restore strings and tuples.
        if tp is str and not isinstance(value, str):
            value = str(value)
        elif typing.get_origin(tp) is tuple and isinstance(value, str):
            value = [v for v in value.split("|") if v]
        fixed[key] = value
    return build_dataclass(family.Options, fixed, ("model_args",), _Located("lm-eval model_args"))


def default_device() -> str:
    """``cuda:0`` when CUDA is available, else ``cpu``."""
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def check_device(device: str) -> str:
    """The device, or a one-line error when it names CUDA on a machine without CUDA."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but CUDA is not available here; use device=cpu "
            "(or leave it unset: the CPU is the default without CUDA)"
        )
    return device


def _merged(args: dict[str, Any], additional: dict[str, Any] | None) -> dict[str, Any]:
    """lm-eval's extra settings (``--device``, batch sizes) under the user's ``model_args``."""
    extra = {k: v for k, v in (additional or {}).items() if v is not None}
    return {**extra, **args}


class HBenchLM(LM):
    """An lm-eval ``LM`` backed by one hbench system variant (batch size 1)."""

    def __init__(
        self,
        system: str,
        variant: str | None = None,
        device: str | None = None,
        dtype: str = "float32",
        batch_size: Any = None,
        max_batch_size: Any = None,
        **options: Any,
    ) -> None:
        super().__init__()
        import torch

        family = plugins.SYSTEMS.get(system)
        variant = variant or family.reference
        if variant not in family.variants:
            raise ValueError(
                f"Unknown variant {variant!r} of {system}. Available: {', '.join(family.variants)}"
            )
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        self.system = family.build(variant, _options(family, options))
        self.system.load(check_device(device or default_device()), getattr(torch, dtype))
        self.name = f"{system}:{variant}"
        self.stats: list[dict[str, Any]] = []  # decoding statistics per generate request

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None):
        """``key=value`` model_args; they override lm-eval's ``--device`` and batch sizes."""
        from lm_eval import utils

        return cls(**_merged(utils.simple_parse_args_string(arg_string), additional_config))

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict, additional_config: dict | None = None):
        """Dict model_args; they override lm-eval's ``--device`` and batch sizes."""
        return cls(**_merged(dict(arg_dict), additional_config))

    # ---- generation --------------------------------------------------------------
    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        out = []
        for req in requests:
            context, gen_kwargs = req.args[0], dict(req.args[1])
            until = gen_kwargs.pop("until", None) or []
            until = [until] if isinstance(until, str) else list(until)
            max_new = int(gen_kwargs.pop("max_gen_toks", 256))
            if gen_kwargs.get("do_sample") and float(gen_kwargs.get("temperature", 1.0)) > 0:
                raise ValueError(
                    f"{self.name}: the task asks for sampling; set temperature/top_p in "
                    "model_args instead (decoding settings belong to the system variant)"
                )
            visuals = req.args[2].get("visual", []) if len(req.args) > 2 else []
            text = self._generate(visuals or [], context, max_new, until)
            out.append(text)
            self.cache_hook.add_partial("generate_until", (context, req.args[1]), text)
        return out

    def _generate(self, images: list[Any], context: str, max_new: int, until: list[str]) -> str:
        if hasattr(self.system, "generate_text"):
            res = self.system.generate_text(images, context, max_new, stop_strings=until)
        else:
            res = self.system.understand(images, context, max_new)
        self.stats.append(dict(res.stats))
        text = res.text
        for s in until:
            if s and s in text:
                text = text[: text.index(s)]
        return text

    # ---- scoring -----------------------------------------------------------------
    def _need_lm(self) -> None:
        for attr in ("encode", "loglikelihood", "eot_token_id"):
            if not hasattr(self.system, attr):
                raise NotImplementedError(
                    f"{self.name} has no text LM to score loglikelihoods (missing {attr!r}); "
                    "only generate_until tasks can run on it"
                )

    def _split(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        # Trailing spaces of the context belong to the continuation (lm-eval convention).
        n = len(context) - len(context.rstrip())
        if n:
            context, continuation = context[:-n], context[-n:] + continuation
        if not context:
            return [self.system.eot_token_id], self.system.encode(continuation)
        whole = self.system.encode(context + continuation)
        ctx = self.system.encode(context)
        return ctx, whole[len(ctx) :]

    def loglikelihood(
        self, requests: list[Any], disable_tqdm: bool = False
    ) -> list[tuple[float, bool]]:
        self._need_lm()
        out = []
        for req in requests:
            ctx, cont = self._split(*req.args)
            res = self.system.loglikelihood(ctx, cont)
            out.append(res)
            self.cache_hook.add_partial("loglikelihood", req.args, res)
        return out

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

        self._need_lm()
        max_len = int(getattr(self.system, "max_length", 2048))
        out = []
        for req in requests:
            tokens = self.system.encode(req.args[0])
            total = 0.0
            for window in get_rolling_token_windows(tokens, self.system.eot_token_id, max_len, 1):
                ctx, cont = make_disjoint_window(window)
                total += self.system.loglikelihood(ctx, cont)[0]
            out.append(total)
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
        return out

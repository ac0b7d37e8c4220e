"""lm-eval bridge: run any lm-eval task through an hbench system variant.

Registers the lm-eval model ``hbench``::

    python -m hbench.harness.lm_eval_bridge --model hbench \\
        --model_args system=hf,variant=spec,path=/models/llm,draft_path=/models/draft,spec_k=4 \\
        --tasks my_task --include_path tasks_dir

    from hbench.harness.lm_eval_bridge import register
    register()
    lm_eval.simple_evaluate(model="hbench", model_args={...}, tasks=[...])

``model_args`` keys: ``system`` (family in the hbench registry), ``variant`` (default: the
family's reference), ``device``, ``dtype``; every other key is a field of the family's
Options dataclass (validated: an unknown key is an error naming the allowed ones).

Device: ``device`` in ``model_args`` wins over lm-eval's ``--device``; with neither, the
model runs on ``cuda:0`` when CUDA is available, else on the CPU (lm-eval's own default is
``cuda:0`` everywhere, which crashes on a machine without CUDA).

lm-eval 0.4 has no plugin discovery for models, so the bare ``lm_eval`` executable cannot
see ``hbench``; :func:`main` (``python -m hbench.harness.lm_eval_bridge``) registers it and
then runs lm-eval's own CLI with the same arguments.

``generate_until`` works for every system (the ``until`` strings end generation; systems
that support them are asked to stop there, others are cut afterwards). ``loglikelihood``
and ``loglikelihood_rolling`` need a system with a text LM (``encode``, ``loglikelihood``,
``eot_token_id``), e.g. the ``hf`` family; other systems raise ``NotImplementedError``.
"""

from __future__ import annotations

import typing
from typing import Any

from . import plugins
from .config import _Located, build_dataclass

MODEL_NAME = "hbench"
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


def _lm_class() -> type:
    from lm_eval.api.model import LM

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

        def loglikelihood_rolling(
            self, requests: list[Any], disable_tqdm: bool = False
        ) -> list[float]:
            from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

            self._need_lm()
            max_len = int(getattr(self.system, "max_length", 2048))
            out = []
            for req in requests:
                tokens = self.system.encode(req.args[0])
                total = 0.0
                for window in get_rolling_token_windows(
                    tokens, self.system.eot_token_id, max_len, 1
                ):
                    ctx, cont = make_disjoint_window(window)
                    total += self.system.loglikelihood(ctx, cont)[0]
                out.append(total)
                self.cache_hook.add_partial("loglikelihood_rolling", req.args, total)
            return out

    return HBenchLM


def register() -> type:
    """Register (once) and return the lm-eval model class ``hbench``."""
    import lm_eval.models  # noqa: F401  (keep lm-eval's own lazy entries registered)
    from lm_eval.api.registry import model_registry

    if MODEL_NAME in model_registry:
        return model_registry.get(MODEL_NAME)
    cls = _lm_class()
    model_registry.register(MODEL_NAME, target=cls)
    return cls


def main(argv: list[str] | None = None) -> int:
    """lm-eval's CLI with the ``hbench`` model registered (same arguments as ``lm_eval``)."""
    import sys

    from lm_eval.__main__ import cli_evaluate

    register()
    args = list(sys.argv[1:] if argv is None else argv)
    is_run = not (args and args[0] in ("ls", "validate")) and not {"-h", "--help"} & set(args)
    devices = [a.split("=", 1)[1] for a in args if a.startswith("--device=")]
    devices += [b for a, b in zip(args, args[1:], strict=False) if a == "--device"]
    if is_run and not devices:
        args += ["--device", default_device()]  # lm-eval would pick cuda:0 even without CUDA
    for device in devices:
        try:
            check_device(device)
        except ValueError as err:
            print(f"hbench lm-eval: error: --device: {err}", file=sys.stderr)
            return 2
    old = sys.argv
    sys.argv = ["lm_eval", *args]
    try:
        cli_evaluate()
    except SystemExit as exc:  # argparse / lm-eval exit codes
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        sys.argv = old
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

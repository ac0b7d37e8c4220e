"""lm-eval front end: run any lm-eval task through an hbench system variant.

Registers the lm-eval model ``hbench``::

    python -m hbench.lm_eval_cli --model hbench \\
        --model_args system=hf,variant=spec,path=/models/llm,draft_path=/models/draft,spec_k=4 \\
        --tasks my_task --include_path tasks_dir

    from hbench.lm_eval_cli import register
    register()
    lm_eval.simple_evaluate(model="hbench", model_args={...}, tasks=[...])

``model_args`` keys: ``system`` (family in the hbench registry), ``variant`` (default: the
family's reference), ``device``, ``dtype``; every other key is a field of the family's
Options dataclass (validated: an unknown key is an error naming the allowed ones).

Device: ``device`` in ``model_args`` wins over lm-eval's ``--device``; with neither, the
model runs on ``cuda:0`` when CUDA is available, else on the CPU (lm-eval's own default is
``cuda:0`` everywhere, which crashes on a machine without CUDA).

pyproject.toml declares ``hbench`` in lm-eval's ``lm_eval.models`` entry-point group, so
plain ``lm_eval --model hbench`` works once a release of lm-eval reads that group (upstream
pull request 4013; 0.4.13 does not). Until then :func:`main` (``python -m hbench.lm_eval_cli``,
or ``hbench lm-eval``) registers the model and runs lm-eval's own CLI with the same arguments.
The model class is :class:`hbench.lm_eval_model.HBenchLM`.

``generate_until`` works for every system (the ``until`` strings end generation; systems
that support them are asked to stop there, others are cut afterwards). ``loglikelihood``
and ``loglikelihood_rolling`` need a system with a text LM (``encode``, ``loglikelihood``,
``eot_token_id``), e.g. the ``hf`` family; other systems raise ``NotImplementedError``.
"""

from __future__ import annotations

from .lm_eval_model import HBenchLM, check_device, default_device

MODEL_NAME = "hbench"


def register() -> type:
    """Register (once) and return the lm-eval model class ``hbench``."""
    import lm_eval.models  # noqa: F401  (keep lm-eval's own lazy entries registered)
    from lm_eval.api.registry import model_registry

    if MODEL_NAME in model_registry:
        return model_registry.get(MODEL_NAME)
    model_registry.register(MODEL_NAME, target=HBenchLM)
    return HBenchLM


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

"""The lm-eval bridge runs offline local tasks through hbench system variants."""

from __future__ import annotations

import json

import pytest
import torch

from hbench.baselines.hf.family import HFOptions, HFSystem
from hbench.baselines.hf.tiny import build_tiny_draft, build_tiny_lm
from hbench.lm_eval_cli import MODEL_NAME, default_device, main, register

QUESTIONS = [
    "what colour is the circle ?",
    "how many red square are there ?",
    "where is the blue triangle ?",
    "is there a cat on the table ?",
    "which shape is above the tree ?",
    "what is left of the house ?",
]

TASKS = {
    "hbench_tiny_gen": """
task: hbench_tiny_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {dir}/gen.jsonl
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["?"]
  max_gen_toks: 12
  do_sample: false
metric_list:
  - metric: exact_match
""",
    "hbench_tiny_mc": """
task: hbench_tiny_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {dir}/mc.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
""",
    "hbench_tiny_ppl": """
task: hbench_tiny_ppl
dataset_path: json
dataset_kwargs:
  data_files:
    test: {dir}/mc.jsonl
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{question}}}}"
metric_list:
  - metric: word_perplexity
""",
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("lmeval")
    build_tiny_lm(d / "lm", "llama", seed=0)
    build_tiny_draft(d / "lm", d / "draft", noise=0.004)
    # Half of the reference answers are the target's own greedy answers (cut at "?"), half are
    # wrong: a correct bridge scores exactly 0.5 under both variants.
    ref = HFSystem("baseline", HFOptions(path=str(d / "lm")))
    ref.load("cpu", torch.float32)
    with (d / "gen.jsonl").open("w") as f:
        for i, q in enumerate(QUESTIONS):
            ans = ref.generate_text([], q, 12, stop_strings=["?"]).text
            f.write(json.dumps({"question": q, "answer": ans if i % 2 == 0 else "no such answer"}))
            f.write("\n")
    with (d / "mc.jsonl").open("w") as f:
        for i, q in enumerate(QUESTIONS):
            f.write(json.dumps({"question": q, "choices": [" yes", " no", " red"], "label": i % 3}))
            f.write("\n")
    tasks = d / "tasks"
    tasks.mkdir()
    for name, text in TASKS.items():
        (tasks / f"{name}.yaml").write_text(text.format(dir=d))
    return d


def _evaluate(setup, variant: str, **extra):
    import lm_eval
    from lm_eval.tasks import TaskManager

    register()
    args = {"system": "hf", "variant": variant, "path": str(setup / "lm"), **extra}
    return lm_eval.simple_evaluate(
        model="hbench",
        model_args=args,
        tasks=list(TASKS),
        task_manager=TaskManager(include_path=str(setup / "tasks"), include_defaults=False),
        log_samples=True,
        bootstrap_iters=0,
    )


def test_simple_evaluate_baseline_and_spec_agree(setup):
    base = _evaluate(setup, "baseline")
    spec = _evaluate(setup, "spec", draft_path=str(setup / "draft"), spec_k=3)
    assert base["results"]["hbench_tiny_gen"]["exact_match,none"] == 0.5
    for task, metric in (
        ("hbench_tiny_gen", "exact_match,none"),
        ("hbench_tiny_mc", "acc,none"),
        ("hbench_tiny_ppl", "word_perplexity,none"),
    ):
        assert base["results"][task][metric] == spec["results"][task][metric], task
    gen_b = [s["resps"] for s in base["samples"]["hbench_tiny_gen"]]
    gen_s = [s["resps"] for s in spec["samples"]["hbench_tiny_gen"]]
    assert gen_b == gen_s
    assert base["results"]["hbench_tiny_ppl"]["word_perplexity,none"] > 1.0


@pytest.mark.slow  # lm-eval's CLI indexes all of its built-in task YAMLs (~20 s on 2 cores)
def test_cli_entry_point(setup, tmp_path, capsys):
    code = main(
        [
            "--model", "hbench",
            "--model_args", f"system=hf,variant=baseline,path={setup / 'lm'}",
            "--tasks", "hbench_tiny_gen",
            "--include_path", str(setup / "tasks"),
            "--output_path", str(tmp_path / "out"),
            "--device", "cpu",
        ]
    )  # fmt: skip
    assert code == 0
    assert "exact_match" in capsys.readouterr().out


def test_bad_model_args_are_named(setup):
    cls = register()
    with pytest.raises(Exception, match="spec_kk"):
        cls(system="hf", variant="spec", path=str(setup / "lm"), spec_kk=3)
    with pytest.raises(Exception, match="Unknown variant"):
        cls(system="hf", variant="fast", path=str(setup / "lm"))


def test_model_args_device_overrides_lm_eval_default(setup):
    """``device=cpu`` in model_args is no TypeError beside lm-eval's own ``device`` setting."""
    cls = register()
    lm = cls.create_from_arg_string(
        f"system=hf,variant=baseline,path={setup / 'lm'},device=cpu",
        {"device": "cuda:0", "batch_size": 1, "max_batch_size": None},
    )
    assert lm.system.device == "cpu"
    lm = cls.create_from_arg_obj({"system": "hf", "path": str(setup / "lm")}, {"device": None})
    assert lm.system.device == default_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA default")
def test_cuda_without_cuda_is_a_one_line_error(setup, capsys):
    cls = register()
    with pytest.raises(ValueError, match="CUDA is not available"):
        cls(system="hf", path=str(setup / "lm"), device="cuda:0")
    assert main(["--model", "hbench", "--tasks", "x", "--device", "cuda:0"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.slow  # lm-eval's CLI indexes all of its built-in task YAMLs (~20 s on 2 cores)
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA default")
def test_cli_without_device_runs_on_cpu(setup, tmp_path, capsys):
    code = main(
        [
            "--model", "hbench",
            "--model_args", f"system=hf,variant=baseline,path={setup / 'lm'}",
            "--tasks", "hbench_tiny_gen",
            "--include_path", str(setup / "tasks"),
            "--output_path", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    assert code == 0
    assert "exact_match" in capsys.readouterr().out


ENTRY_GROUP = "lm_eval.models"  # lm-eval's plugin discovery group (upstream docs/plugins.md)


def _declared_entry_point() -> str:
    from pathlib import Path

    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    data = tomllib.loads(pyproject.read_text())
    return data["project"]["entry-points"][ENTRY_GROUP][MODEL_NAME]


def test_entry_point_names_the_registered_class():
    """pyproject.toml's ``lm_eval.models`` entry names the very class ``register()`` uses."""
    import importlib

    from lm_eval.api.model import LM

    module, attr = _declared_entry_point().split(":")
    cls = getattr(importlib.import_module(module), attr)
    assert cls is register() and issubclass(cls, LM)


def _lm_eval_reads_entry_points() -> bool:
    """Whether the installed lm-eval discovers models from entry points (0.4.13 does not)."""
    import importlib.util
    from pathlib import Path

    source = Path(importlib.util.find_spec("lm_eval.api.registry").origin).read_text()
    return ENTRY_GROUP in source and "entry_points" in source


@pytest.mark.slow  # lm-eval's CLI indexes all of its built-in task YAMLs
def test_plain_lm_eval_resolves_hbench_through_the_entry_point(setup, tmp_path):
    import importlib.metadata
    import shutil
    import subprocess

    from lm_eval import __version__ as lm_eval_version

    if not _lm_eval_reads_entry_points():
        pytest.skip(
            f"lm-eval {lm_eval_version} does not read the {ENTRY_GROUP!r} entry-point group "
            "(plugin discovery, EleutherAI/lm-evaluation-harness PR 4013, is not in this release)"
        )
    eps = importlib.metadata.entry_points(group=ENTRY_GROUP)
    if MODEL_NAME not in eps.names:
        pytest.skip("the installed hbench metadata has no entry point yet: pip install -e .")
    exe = shutil.which("lm_eval") or shutil.which("lm-eval")
    assert exe, "lm-eval is installed but its executable is not on PATH"
    proc = subprocess.run(
        [
            exe, "--model", MODEL_NAME,
            "--model_args", f"system=hf,variant=baseline,path={setup / 'lm'},device=cpu",
            "--tasks", "hbench_tiny_gen", "--include_path", str(setup / "tasks"),
            "--output_path", str(tmp_path / "out"),
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "exact_match" in proc.stdout

"""Every fenced command and config in README.md and docs/*.md runs as written.

Data-driven: the blocks are found by their fence language, so a section added or edited by
anyone is picked up with no change here.

* ``bash``/``sh``/``shell``/``console`` blocks are commands. Every ``hbench`` command runs in a
  sandbox directory that holds the repository's ``configs/`` and ``claims/`` and a small demo
  run at ``runs/demo``; commands that would run for minutes get a size flag appended
  (``SMALL``; a few real-model runs only ``--check``, ``CHECK_ONLY``), nothing else is changed. Other programs are in ``NOT_RUN`` with the reason.
* ``yaml`` blocks are run configs: ``--show-config``, then a run with ``--limit 1``. A block
  whose first line names a shipped file (``# configs/...yaml``) must equal that file.
* ``text`` blocks whose lines start with ``hbench`` are the CLI synopsis: the words of each
  line must be in the subcommand's usage and its ``--flags`` in its ``--help``.
* Untagged and ``json`` blocks are layouts and file formats, not examples.

Only blocks that cannot run here (GPU, weights from a model hub) are skipped, in ``SKIP``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC_GLOBS = ("README.md", "docs/*.md")

COMMAND_LANGS = frozenset({"bash", "sh", "shell", "console"})
CONFIG_LANGS = frozenset({"yaml", "yml"})
SYNOPSIS_LANGS = frozenset({"text"})
NOT_EXAMPLES = frozenset({"", "json"})  # directory layouts, diagrams, file formats

# Blocks that cannot run on this machine: (file, a line of the block) -> why. A key that
# matches no block fails test_skip_list_is_current, so a skip never outlives its block.
SKIP: dict[tuple[str, str], str] = {
    # The BAGEL recipe needs 8 GPUs, a BAGEL checkout and the 7B weights.
    (
        "docs/bagel.md",
        "torchrun --nproc_per_node 8 -m hbench run configs/bagel/geneval.yaml",
    ): "GPU",
    # HPS, PickScore, CLIP, aesthetic and Inception weights come from a model hub.
    ("docs/metrics.md", "hpsv2:"): "hub weights",
    # The SmolLM2 drafters' training recipe runs 75 min; tests/baselines/hf/test_smollm2.py and
    # test_draft_model.py run both trainers (train_head, train_draft) for a few steps.
    ("README.md", "python -m hbench.baselines.hf.train_head --model"): "trains for 75 min",
}

# Programs other than hbench that examples call, and why this test does not run them.
NOT_RUN: dict[str, str] = {
    "pip": "installs into the environment: done once per environment, never by a test",
    "pytest": "this test runs inside pytest",
    "git": "network",
}

# Size flags appended to commands that would otherwise run for minutes.
SMALL: dict[str, tuple[str, ...]] = {
    "demo": ("--limit", "1", "--quiet"),
    "run": ("--limit", "1", "--quiet"),
    "bench": ("--samples", "2", "--max-new-tokens", "16"),
    "lm-eval": ("--limit", "2"),
}
# Runs of the real model whose smoke run would repeat another block's code path for a minute
# (same family, model and suite; only the prompt count or the drafter differs): checked with
# `--check` (every path they name exists; nothing loads). tests/baselines/hf runs both drafters.
CHECK_ONLY = frozenset({"configs/smollm2/lossless.yaml", "configs/smollm2/lossless_draft.yaml"})
# Flags after which a command runs no samples, so it needs no size flag.
NO_SAMPLES = frozenset({"--help", "-h", "--show-config", "--dry-run", "--check"})
# Exit statuses that mean "ran as written": a gate whose claim fails (1) still ran.
EXIT_OK: dict[str, frozenset[int]] = {"gate": frozenset({0, 1})}


@dataclass(frozen=True)
class Block:
    """One fenced block of a Markdown file."""

    path: str  # relative to the repository root
    line: int  # line of the opening fence
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def skip_reason(self) -> str | None:
        for (path, needle), reason in SKIP.items():
            if path == self.path and needle in self.text:
                return reason
        return None


_FENCE = re.compile(r"^(`{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)


def extract_blocks(path: str, text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order."""
    return [
        Block(path, text.count("\n", 0, m.start()) + 1, m.group(2).lower(), m.group(3))
        for m in _FENCE.finditer(text)
    ]


def doc_blocks(root: Path = ROOT) -> list[Block]:
    """Every fenced block of README.md and docs/*.md under ``root``."""
    files = sorted({p for pattern in DOC_GLOBS for p in root.glob(pattern)})
    return [
        block
        for path in files
        for block in extract_blocks(path.relative_to(root).as_posix(), path.read_text())
    ]


def commands(text: str) -> list[list[str]]:
    """Shell commands of a block: continuation lines joined, comments dropped, ``&&`` split."""
    out: list[list[str]] = []
    for line in text.replace("\\\n", " ").splitlines():
        current: list[str] = []
        for token in shlex.split(line, comments=True):
            if token in ("&&", ";", "||"):
                out.append(current)
                current = []
            else:
                current.append(token)
        out.append(current)
    return [c for c in out if c]


def hbench_args(argv: list[str]) -> tuple[dict[str, str], list[str] | None]:
    """Leading ``VAR=value`` settings, and the hbench arguments (None: another program)."""
    env = {}
    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0]):
        key, _, value = argv[0].partition("=")
        env[key] = value
        argv = argv[1:]
    if argv[:1] == ["hbench"]:
        return env, argv[1:]
    for i in range(len(argv) - 1):  # python -m hbench ..., torchrun ... -m hbench ...
        if argv[i : i + 2] == ["-m", "hbench"]:
            return env, argv[i + 2 :]
    return env, None


def _hbench(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}  # this checkout's code
    return subprocess.run([sys.executable, "-m", "hbench", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _sized(args: list[str]) -> list[str]:
    if not args or NO_SAMPLES & set(args):
        return args
    if args[0] == "run" and CHECK_ONLY & set(args):
        return [*args, "--check"]
    return [*args, *SMALL.get(args[0], ())]


def check_commands(block: Block, sandbox: Path) -> list[str]:
    """Run the block's commands in order in ``sandbox``; returns the problems found."""
    problems = []
    for argv in commands(block.text):
        env, args = hbench_args(argv)
        if args is None:
            if argv[0] not in NOT_RUN:
                problems.append(f"{block.where}: {shlex.join(argv)}: unknown program (NOT_RUN?)")
            continue
        proc = _hbench(_sized(args), sandbox, env)
        ok = EXIT_OK.get(args[0] if args else "", frozenset({0}))
        if proc.returncode not in ok:
            tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
            problems.append(
                f"{block.where}: `{shlex.join(argv)}` exited {proc.returncode}: {' | '.join(tail)}"
            )
    return problems


def check_config(block: Block, sandbox: Path) -> list[str]:
    """Resolve the config and run one sample of each suite; returns the problems found."""
    problems = []
    first = block.text.splitlines()[0] if block.text else ""
    named = re.fullmatch(r"#\s*(\S+\.ya?ml)\b.*", first.strip())
    if named and (ROOT / named.group(1)).is_file():
        if (ROOT / named.group(1)).read_text() != block.text:
            problems.append(f"{block.where}: differs from {named.group(1)}, which it names")
    data = yaml.safe_load(block.text)
    if not (isinstance(data, dict) and {"system", "suites"} <= data.keys()):
        return [*problems, f"{block.where}: not a run config (no system and suites)"]
    config = sandbox / f"{Path(block.path).stem}-{block.line}.yaml"
    config.write_text(block.text)
    for args in (["run", str(config), "--show-config"],
                 ["run", str(config), "--out", f"runs/config-{block.line}", "--limit", "1",
                  "--quiet"]):  # fmt: skip
        proc = _hbench(args, sandbox)
        if proc.returncode != 0:
            last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]
            problems.append(f"{block.where}: `hbench {shlex.join(args)}`: {' '.join(last)}")
            break
    return problems


@functools.cache
def help_text(*args: str) -> tuple[int, str]:
    """``hbench ARGS --help``, in process (help texts change no state): status and stdout."""
    from hbench.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            status = main([*args, "--help"])
        except SystemExit as exc:  # argparse's --help
            status = int(exc.code or 0) if not isinstance(exc.code, str) else 2
    return status, out.getvalue()


def check_synopsis(block: Block, sandbox: Path) -> list[str]:
    """Each ``hbench ...`` line: its words in the usage, its flags in the help."""
    problems = []
    for line in block.text.splitlines():
        if not line.startswith("hbench "):
            continue
        usage = re.split(r"\s{2,}", line.strip())[0]  # the command, without its description
        words = []
        for token in usage.split()[1:]:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", token):
                break
            words.append(token)
        status, text = help_text(*words)
        if status != 0:
            problems.append(f"{block.where}: `hbench {' '.join(words)} --help` exited {status}")
            continue
        top_usage = help_text(*words[:1])[1].split("\n\n", 1)[0]
        for word in words[1:]:
            if not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", top_usage):
                problems.append(f"{block.where}: `{usage}`: {word!r} is not in: {top_usage!r}")
        for flag in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", usage):
            if flag not in text:
                problems.append(f"{block.where}: `{usage}`: {flag} is not in its --help")
    return problems


def check_block(block: Block, sandbox: Path) -> list[str]:
    """Check one block by its language; returns the problems found (empty: it runs)."""
    if block.lang in COMMAND_LANGS:
        return check_commands(block, sandbox)
    if block.lang in CONFIG_LANGS:
        return check_config(block, sandbox)
    if block.lang in SYNOPSIS_LANGS:
        return check_synopsis(block, sandbox)
    if block.lang in NOT_EXAMPLES:
        return []
    return [f"{block.where}: fence language {block.lang!r} has no rule in this test"]


# ---- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo run (two samples of each suite) that examples may name as runs/demo."""
    out = tmp_path_factory.mktemp("docs-demo") / "demo"
    proc = _hbench(["demo", "--limit", "2", "--quiet", "--out", str(out)], out.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture()
def sandbox(tmp_path: Path, demo_run: Path) -> Path:
    """A working directory like the repository root: configs/, claims/, runs/demo."""
    for name in ("configs", "claims"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "demo").symlink_to(demo_run)
    return tmp_path


# ---- tests ------------------------------------------------------------------------------

BLOCKS = [b for b in doc_blocks() if b.lang not in NOT_EXAMPLES]


def test_docs_have_examples_to_check():
    langs = {b.lang for b in BLOCKS}
    assert {"bash", "yaml", "text"} <= langs, langs


def test_skip_list_is_current():
    blocks = doc_blocks()
    stale = [key for key in SKIP if not any(b.path == key[0] and key[1] in b.text for b in blocks)]
    assert not stale, f"SKIP entries that match no block (remove them): {stale}"


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b.where}-{b.lang}")
def test_example_runs_as_written(block: Block, sandbox: Path):
    reason = block.skip_reason()
    if reason:
        pytest.skip(f"{block.where}: cannot run here ({reason})")
    problems = check_block(block, sandbox)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_a_broken_example_fails(sandbox: Path):
    """The checks catch the README's old bugs: a broken copy of each block fails."""
    readme = (ROOT / "README.md").read_text()
    blocks = {b.lang: b for b in extract_blocks("README.md", readme)}
    config = blocks["yaml"]
    broken = config.text.replace(
        "variants: [oracle, baseline, spec, nfe6, nfe1]", "variants: [oracle, baseline, nfe6, nfe1]"
    )
    assert broken != config.text
    problems = check_config(Block("README.md", config.line, "yaml", broken), sandbox)
    assert any("differs from configs/shapes/full.yaml" in p for p in problems), problems
    assert any("'spec' is not in system.variants" in p for p in problems), problems

    bad_synopsis = Block("README.md", 1, "text", "hbench bench spec --shapes   the old usage\n")
    problems = check_synopsis(bad_synopsis, sandbox)
    assert any("'spec' is not in" in p for p in problems), problems

    bad_command = Block("README.md", 1, "bash", "hbench run configs/shapes.yaml --dry-run\n")
    problems = check_commands(bad_command, sandbox)
    assert len(problems) == 1 and "configs/shapes.yaml" in problems[0], problems


def test_extraction_handles_continuations_chains_and_env():
    text = (
        "```bash\n# comment\nA=1 hbench run c.yaml \\\n    --out x   # trailing\n"
        "pip install -e . && hbench demo\n```\n\n```\nlayout\n```\n"
    )
    blocks = extract_blocks("X.md", text)
    assert [(b.line, b.lang) for b in blocks] == [(1, "bash"), (8, "")]
    cmds = commands(blocks[0].text)
    assert cmds == [
        ["A=1", "hbench", "run", "c.yaml", "--out", "x"],
        ["pip", "install", "-e", "."],
        ["hbench", "demo"],
    ]
    assert hbench_args(cmds[0]) == ({"A": "1"}, ["run", "c.yaml", "--out", "x"])
    assert hbench_args(["torchrun", "--nproc_per_node", "2", "-m", "hbench", "run", "c"]) == (
        {},
        ["run", "c"],
    )
    assert hbench_args(cmds[1]) == ({}, None)
    assert _sized(["run", "c.yaml"]) == ["run", "c.yaml", "--limit", "1", "--quiet"]
    assert _sized(["run", "c.yaml", "--dry-run"]) == ["run", "c.yaml", "--dry-run"]

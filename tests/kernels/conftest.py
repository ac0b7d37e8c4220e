"""Run the kernel tests under the Triton interpreter, in this process or in a child process.

Triton compiles its language library (``tl.sum`` ...) for the GPU or the interpreter when
``triton.language`` is first imported, reading ``TRITON_INTERPRET`` at that moment.
``import torch`` does not import Triton, but torchvision, diffusers, open_clip,
torchmetrics and torch._dynamo do, so in a whole-suite run another folder's test modules
have usually imported it (without the interpreter) before this conftest is loaded.

* Triton not imported yet: set ``TRITON_INTERPRET=1`` now and run the tests here.
* Triton already imported without the interpreter: the selected kernel tests are replaced
  by one item that reruns exactly them (same node ids) in a fresh ``python -m pytest``
  with ``TRITON_INTERPRET=1``; its failure shows the child's output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_TRITON_WAS_IMPORTED = "triton.language" in sys.modules
if not _TRITON_WAS_IMPORTED:
    os.environ["TRITON_INTERPRET"] = "1"

from hbench.kernels._triton import interpreter_ready  # noqa: E402 - after the variable is set

HERE = Path(__file__).resolve().parent
IN_CHILD = "HBENCH_KERNEL_TESTS_CHILD"
INTERPRETER_IN_PROCESS = interpreter_ready()
CHILD_SUMMARY = pytest.StashKey[str]()


def _is_kernel_item(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


class KernelTestsInChild(pytest.Item):
    """Runs the given kernel test node ids in a child pytest with the interpreter on."""

    def __init__(self, *, node_ids: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.node_ids = node_ids

    def runtest(self) -> None:
        env = dict(os.environ, TRITON_INTERPRET="1", **{IN_CHILD: "1"})
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *self.node_ids]
        proc = subprocess.run(
            cmd, cwd=self.config.rootpath, env=env, capture_output=True, text=True, timeout=900
        )
        summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
        self.config.stash[CHILD_SUMMARY] = f"exit {proc.returncode}: {summary}"
        if proc.returncode != 0:
            raise AssertionError(
                f"kernel tests under TRITON_INTERPRET=1 failed in a child process "
                f"(exit {proc.returncode}): {summary}\n{proc.stdout[-20000:]}\n{proc.stderr[-5000:]}"
            )

    def reportinfo(self):
        return self.path, None, f"{len(self.node_ids)} kernel tests under TRITON_INTERPRET=1"


def _kernels_node(item: pytest.Item) -> pytest.Collector:
    node = item.parent
    while node is not None and Path(str(node.path)).resolve() != HERE:
        node = node.parent
    return node if node is not None else item.session


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: the child runs what is selected
def pytest_collection_modifyitems(
    session: pytest.Session, config, items: list[pytest.Item]
) -> None:
    if INTERPRETER_IN_PROCESS:
        return
    if os.environ.get(IN_CHILD):
        raise pytest.UsageError(
            "kernel tests: TRITON_INTERPRET=1 is set but triton.language was imported without it; "
            "something imports triton before tests/kernels/conftest.py even in the child process"
        )
    kernel_items = [it for it in items if _is_kernel_item(it)]
    if not kernel_items:
        return
    child = KernelTestsInChild.from_parent(
        _kernels_node(kernel_items[0]),
        name="kernels-under-triton-interpreter",
        node_ids=[it.nodeid for it in kernel_items],
    )
    keep = [it for it in items if not _is_kernel_item(it)]
    items[:] = keep + [child]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if CHILD_SUMMARY in config.stash:
        terminalreporter.write_line(
            f"kernel tests ran in a child process under TRITON_INTERPRET=1 ({config.stash[CHILD_SUMMARY]})"
        )

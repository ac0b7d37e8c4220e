"""Fork server for the fault-injection tests (run as a subprocess; not a test module).

It imports hbench (torch, the suites, the metrics) once, then runs each ``hbench`` command
it is sent in a forked child process, so twenty crash/resume trials cost seconds, not
minutes of interpreter start-up. Commands are JSON lines on stdin; each answer is one
JSON line on stdout:

* ``{"op": "start", "argv": [...], "log": PATH, "fault": {...}}`` -> ``{"pid": N}``
* ``{"op": "wait", "pid": N}`` -> ``{"rc": exit status or null, "signal": N or null}``

``fault`` installs a hook on the run store's single low-level writer
(``hbench.harness.store._write``), counting its calls in the child:

* ``{"kill_at": K, "cut": F}``: at write K, write the first F (0..1) of the bytes, then
  SIGKILL itself (a crash in the middle of a line, an image, a manifest ...);
* ``{"enospc_at": K, "cut": F}``: at write K, write F of the bytes, then raise ENOSPC
  (a full disk) on this and every later write;
* ``{"pause_at": K, "until": PATH}``: before write K, wait until PATH exists (holds the
  run lock while a second run is started);
* ``{"count_to": PATH}``: write the number of writes to PATH at exit.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

# This checkout's hbench, not the venv's editable install (python runs this file directly).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# Everything a run imports, once (children are forks of this process).
import hbench.harness.metrics_pass  # noqa: F401
import hbench.reports.cli  # noqa: F401
import hbench.tasks.gedit.metrics  # noqa: F401
import hbench.tasks.gedit.suite  # noqa: F401
import hbench.tasks.geneval.suite  # noqa: F401
import hbench.tasks.understanding.suite  # noqa: F401
from hbench import cli
from hbench.harness import plugins, store

plugins.load_entry_point_plugins()
for _name in ("shapes",):
    plugins.SYSTEMS.get(_name)
for _name in ("geneval", "gedit", "understanding"):
    plugins.SUITES.get(_name)
plugins.METRICS.get("shapes-palette")
try:  # the gedit metrics import torchmetrics lazily on first use
    import torchmetrics.functional.image  # noqa: F401
except ImportError:  # pragma: no cover
    pass


def _install(fault: dict) -> None:
    real = store._write
    state = {"n": 0}

    def hooked(fh, data) -> None:  # noqa: ANN001 - same signature as store._write
        state["n"] += 1
        n = state["n"]
        if fault.get("pause_at") == n:
            while not Path(fault["until"]).exists():
                time.sleep(0.01)
        if fault.get("kill_at") == n:
            real(fh, bytes(data)[: int(len(data) * fault.get("cut", 0.5))])
            os.kill(os.getpid(), signal.SIGKILL)
        if fault.get("enospc_at") is not None and n >= fault["enospc_at"]:
            if n == fault["enospc_at"]:
                real(fh, bytes(data)[: int(len(data) * fault.get("cut", 0.5))])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fh, data)

    store._write = hooked
    _install.state = state  # type: ignore[attr-defined]


def _child(cmd: dict) -> None:
    fd = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    fault = cmd.get("fault") or {}
    try:
        _install(fault)
        rc = cli.main(cmd["argv"])
    except SystemExit as err:
        rc = err.code if isinstance(err.code, int) else 2
    except BaseException:  # noqa: BLE001 - the test greps the log for tracebacks
        traceback.print_exc()
        rc = 99
    if fault.get("count_to"):
        Path(fault["count_to"]).write_text(str(_install.state["n"]))  # type: ignore[attr-defined]
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(rc or 0))


def main() -> None:
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "start":
            pid = os.fork()
            if pid == 0:
                _child(cmd)
            answer = {"pid": pid}
        else:
            _, status = os.waitpid(cmd["pid"], 0)
            answer = {
                "rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()

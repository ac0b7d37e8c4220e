"""The run-directory lock: one writer per run directory at a time.

``RUN/.lock`` is created with ``O_CREAT | O_EXCL`` (atomic on local file systems) and holds
the owner's pid, host, the pid's start time and the command. A second writer finds it and
refuses in one line naming the owner. A lock whose owner is gone (same host, pid dead or
reused by another process) is stale: it is moved aside atomically and taken over, so a
run killed with SIGKILL never leaves its directory stuck. A lock of another host is never
broken automatically (its pid means nothing here); the message says which file to delete.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .store import RunStoreError, now

LOCK = ".lock"
EMPTY_LOCK_GRACE_S = 30.0  # a lock file still empty after this long lost its writer


class RunLockedError(RunStoreError):
    """The run directory is held by another live process."""


def _pid_start(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    if start is not None:
        now_start = _pid_start(pid)
        if now_start is not None and now_start != start:
            return False  # the pid was reused by a newer process
    return _proc_state(pid) != "Z"  # a killed owner not yet reaped by its parent is gone


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[0] if fields else None


def read_lock(run_dir: str | Path) -> dict[str, Any] | None:
    """The lock's owner record ({} when unreadable), None when the run is not locked."""
    path = Path(run_dir) / LOCK
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def lock_is_stale(info: dict[str, Any], path: Path) -> bool:
    """True if the owner recorded in ``info`` is gone (decidable on this host only)."""
    if not info:  # created but never written: its writer died between the two steps
        try:
            return time.time() - path.stat().st_mtime > EMPTY_LOCK_GRACE_S
        except FileNotFoundError:
            return True
    if info.get("host") != socket.gethostname():
        return False
    pid = info.get("pid")
    return not (isinstance(pid, int) and _alive(pid, info.get("pid_start")))


def describe_owner(info: dict[str, Any]) -> str:
    if not info:
        return "a process that is still writing its lock"
    return (
        f"pid {info.get('pid')} on {info.get('host')} since {info.get('started')} "
        f"({info.get('command', '?')})"
    )


class RunLock:
    """Exclusive lock of a run directory (a context manager; see the module docstring)."""

    def __init__(self, run_dir: str | Path, command: str | None = None) -> None:
        self.dir = Path(run_dir)
        self.path = self.dir / LOCK
        self.command = command or " ".join(["hbench", *sys.argv[1:]])[:200]
        self.token = uuid.uuid4().hex
        self.held = False

    def acquire(self) -> RunLock:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunStoreError(f"cannot create {self.dir}: {err.strerror}") from err
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = read_lock(self.dir)
                if info is None:
                    continue  # released meanwhile: try again
                if lock_is_stale(info, self.path) and self._break_stale(info):
                    continue
                raise RunLockedError(
                    f"run directory {self.dir} is in use by {describe_owner(info)}; wait for it "
                    f"to finish (if that process is gone for good, delete {self.path})"
                ) from None
            except OSError as err:
                raise RunStoreError(f"cannot create {self.path}: {err.strerror}") from err
            info = {"pid": os.getpid(), "pid_start": _pid_start(os.getpid()),
                    "host": socket.gethostname(), "started": now(), "command": self.command,
                    "token": self.token}  # fmt: skip
            try:
                os.write(fd, json.dumps(info).encode())
            except OSError as err:
                os.close(fd)
                os.unlink(self.path)
                raise RunStoreError(f"cannot write {self.path}: {err.strerror}") from err
            os.close(fd)
            self.held = True
            return self
        raise RunLockedError(f"run directory {self.dir}: could not take {self.path}")

    def _break_stale(self, info: dict[str, Any]) -> bool:
        """Move a stale lock aside; False if another process replaced it meanwhile."""
        aside = self.dir / f"{LOCK}.stale.{os.getpid()}.{self.token[:8]}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True  # someone else removed it: retry the O_EXCL create
        moved = read_lock_file(aside)
        if moved == info:
            aside.unlink(missing_ok=True)
            return True
        # A live process took the lock between our read and the rename: put it back.
        try:
            os.link(aside, self.path)
        except FileExistsError:
            pass
        aside.unlink(missing_ok=True)
        return False

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        if not self.held:
            return
        self.held = False
        info = read_lock(self.dir)
        if info and info.get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_lock_file(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}

"""One wording for the errors every hbench command prints (CLI face and delegated modules).

A user error is one line on stderr, ``hbench: error: <what> ...``, and exit status 2,
whichever subcommand found it; the same problem is worded the same way everywhere.
"""

from __future__ import annotations

import sys
from os import PathLike

ERROR_PREFIX = "hbench: error: "


def print_error(message: object) -> None:
    """Print one user-error line to stderr."""
    print(f"{ERROR_PREFIX}{message}", file=sys.stderr)


def not_a_run_directory(path: str | PathLike[str]) -> str:
    """The message for a path that is not a run directory (no manifest.json in it)."""
    return f"{path}: not a run directory (no manifest.json)"

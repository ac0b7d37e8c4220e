"""The errors a user can cause, as the CLI prints them: one line, exit status 2."""

from __future__ import annotations

import importlib


class UserError(Exception):
    """An error caused by the user's input: printed as one line, no traceback."""


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types printed as one line: the core's, and the suites' and families'."""
    from hbench.harness.config import ConfigError
    from hbench.harness.images import ImageFileError
    from hbench.harness.registry import UnknownNameError
    from hbench.harness.runner import RunError
    from hbench.harness.store import RunStoreError
    from hbench.harness.textio import InputFileError

    errors: list[type[BaseException]] = [
        UserError,
        ConfigError,
        UnknownNameError,
        RunError,
        RunStoreError,
        InputFileError,
        ImageFileError,
        OSError,  # a file the user named, a full or read-only disk: printed with its file
    ]
    # Input errors of the suites and families: bad data files, bad weights.
    for module, name in (
        ("hbench.tasks.geneval.metadata", "MetadataError"),
        ("hbench.tasks.geneval.layout", "LayoutError"),
        ("hbench.tasks.geneval.summary", "ResultsError"),
        ("hbench.tasks.latency.inputs", "InputError"),
        ("hbench.baselines.shapes.generator.weights", "WeightsError"),
        ("hbench.baselines.shapes.understanding.weights", "WeightsError"),
        ("hbench.baselines.hf.fetch", "FetchError"),
    ):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def one_line(err: BaseException) -> str:
    """The message of a user error on one line (an OSError names its file)."""
    if isinstance(err, OSError) and err.strerror:
        text = f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    else:
        text = str(err)
    return " ".join(text.split("\n")).strip() or type(err).__name__

"""Reading the user's text files: one-line errors naming the file (and byte offset)."""

from __future__ import annotations

from pathlib import Path


class InputFileError(ValueError):
    """A text input file that cannot be read or is not UTF-8; the message names it."""


def read_utf8(path: str | Path, what: str = "file") -> str:
    """The text of ``path``; InputFileError naming the file and the first bad byte's offset."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputFileError(f"{path}: cannot read {what}: {err.strerror}") from err
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputFileError(
            f"{path}: {what} is not UTF-8 text (byte offset {err.start}: 0x{data[err.start]:02x})"
        ) from err

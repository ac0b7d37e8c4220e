"""The run store as reports see it: :mod:`hbench.harness.runs` (the one reader).

Reports read only this: ``manifest.json``, every ``records*.jsonl``, ``scores.json`` and the
images the records point to. Nothing here runs a model or imports torch.
"""

from __future__ import annotations

from hbench.harness.runs import DEFAULT_REFERENCE, Run, load_run, load_runs
from hbench.harness.store import RunStoreError

__all__ = ["DEFAULT_REFERENCE", "NoData", "Run", "RunStoreError", "load_run", "load_runs"]


class NoData(Exception):
    """An artifact has nothing to show for these runs; the message says what is absent."""

"""Fixtures shared by the gedit tests."""

from __future__ import annotations

import pytest
from gedit_data_helpers import dataset, gedit_rows


@pytest.fixture(scope="session")
def gedit_saved(tmp_path_factory):
    """A ``save_to_disk`` DatasetDict directory (train split), as ``load_dataset`` + save gives."""
    import datasets

    path = tmp_path_factory.mktemp("gedit_saved")
    datasets.DatasetDict({"train": dataset(gedit_rows())}).save_to_disk(str(path))
    return path


@pytest.fixture(scope="session")
def gedit_parquet(tmp_path_factory):
    """The hub layout: ``data/train-00000-of-00001.parquet``."""
    path = tmp_path_factory.mktemp("gedit_parquet")
    (path / "data").mkdir()
    dataset(gedit_rows()).to_parquet(str(path / "data" / "train-00000-of-00001.parquet"))
    return path

"""Tagged safetensors files: a head and a draft file are told apart by their format tag."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from hbench.baselines.runtime.tagged_file import read_tagged_metadata


def test_the_right_tag_returns_the_metadata(tmp_path):
    path = tmp_path / "a.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "fmt-v1", "config": "{}"})
    assert read_tagged_metadata(path, "fmt-v1", "a thing") == {"format": "fmt-v1", "config": "{}"}


@pytest.mark.parametrize(
    "metadata", [None, {"format": "other-v1", "config": "{}"}, {"format": "fmt-v1"}]
)
def test_a_wrong_or_missing_tag_names_the_file_and_what_it_should_be(tmp_path, metadata):
    path = tmp_path / "b.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=r"b\.safetensors: not a thing .*'fmt-v1'"):
        read_tagged_metadata(path, "fmt-v1", "a thing")


def test_a_draft_file_is_not_taken_for_a_head(tmp_path):
    from hbench.baselines.hf.draft_model import FORMAT as DRAFT_FORMAT
    from hbench.baselines.runtime.eagle import EagleHead

    path = tmp_path / "draft.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": DRAFT_FORMAT, "config": "{}"})
    with pytest.raises(ValueError, match="not an hbench EAGLE head"):
        EagleHead.load(path)

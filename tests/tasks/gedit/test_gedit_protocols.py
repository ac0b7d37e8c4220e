"""GEdit protocol profiles: defaults of ``official``, judge identity per sample, comparability."""

import json

import pytest
from gedit_data_helpers import LocalChatServer
from PIL import Image

from hbench.harness.suite import Artifacts
from hbench.tasks.gedit.protocols import PINNED_GPT, judge_standing
from hbench.tasks.gedit.suite import GEditConfig, GEditSuite


class _Files(Artifacts):
    def __init__(self, root):
        self.root = root

    def save_image(self, item, image, tag=""):
        path = self.root / f"{item.sample}{tag}.png"
        image.save(path)
        return path.name

    def path(self, *parts):
        return self.root.joinpath(*parts)


def _qwen_folder(tmp_path, hidden, layers):
    folder = tmp_path / f"qwen-{hidden}"
    folder.mkdir()
    cfg = {"model_type": "qwen2_5_vl", "hidden_size": hidden, "num_hidden_layers": layers}
    if hidden == 8192:
        cfg["quantization_config"] = {"quant_method": "awq"}
    (folder / "config.json").write_text(json.dumps(cfg))
    return str(folder)


def test_official_defaults_follow_bagel(gedit_parquet):
    suite = GEditSuite(GEditConfig(source=str(gedit_parquet), protocol="official"))
    assert suite.judge_name == "openai"
    assert suite.judge_options == {"model": PINNED_GPT, "parsing": "viescore"}
    assert (suite.input_field, suite.input_area) == ("input_image", 0)
    card = suite.protocol_card()
    assert card.comparable and PINNED_GPT in card.why
    assert any("gen_images_gedit.py:418" in f for f in card.follows)
    item = suite.items(0)[0]
    assert suite.input_image(item).size == (24, 16)  # the dataset's input_image, not resized


def test_strict_defaults_are_unchanged(gedit_parquet):
    suite = GEditSuite(GEditConfig(source=str(gedit_parquet)))
    assert (suite.judge_name, suite.input_field, suite.input_area) == (
        "shapes", "input_image_raw", 512 * 512,
    )  # fmt: skip
    assert not suite.protocol_card().comparable


def test_config_wins_over_the_profile(gedit_parquet):
    cfg = GEditConfig(source=str(gedit_parquet), protocol="official", input_image="input_image_raw",
                      judge_options={"max_attempts": 5})  # fmt: skip
    suite = GEditSuite(cfg)
    assert suite.judge_options == {"model": PINNED_GPT, "parsing": "viescore", "max_attempts": 5}
    assert suite.input_field == "input_image_raw"
    card = suite.protocol_card()
    assert not card.comparable and "input_image_raw" in card.why


def test_local_judges_are_labelled(tmp_path, gedit_parquet):
    seven = _qwen_folder(tmp_path, 3584, 28)
    big = _qwen_folder(tmp_path, 8192, 80)
    ok7, why7 = judge_standing("vlm", {"path": seven})
    ok72, why72 = judge_standing("vlm", {"path": big})
    assert not ok7 and why7.startswith("not comparable") and "7B" in why7
    assert not ok72 and "local alternative" in why72
    assert judge_standing("openai", {"model": "gpt-4.1"})[0] is False  # unpinned alias
    cfg = GEditConfig(source=str(gedit_parquet), protocol="official", judge="vlm",
                      judge_options={"path": seven})  # fmt: skip
    card = GEditSuite(cfg).protocol_card()
    assert not card.comparable and "not comparable" in card.why


def test_unknown_profile_is_rejected():
    with pytest.raises(ValueError, match="Unknown gedit protocol 'offical'"):
        GEditSuite(GEditConfig(protocol="offical"))


def test_judge_identity_is_recorded_per_sample(tmp_path, monkeypatch, gedit_parquet):
    """Official profile, openai judge on a local server: requested and served model per record."""
    monkeypatch.setenv("HB_TEST_KEY", "sk-local")
    script = [(200, '{"score": [7, 8], "reasoning": "ok"}')] * 2
    with LocalChatServer(script, model="gpt-4.1-2025-04-14-served") as srv:
        cfg = GEditConfig(source=str(gedit_parquet), protocol="official", metrics=False,
                          judge_options={"base_url": srv.url, "api_key_env": "HB_TEST_KEY"},
                          save_source_images=False)  # fmt: skip
        suite = GEditSuite(cfg)
        item = suite.items(0)[0]
        res = suite.evaluate(item, Image.new("RGB", (24, 16)), _Files(tmp_path))
    body = srv.requests[0]["body"]
    assert body["model"] == PINNED_GPT and body["max_tokens"] == 1400
    info = res.details["judge_info"]
    assert info["model"] == PINNED_GPT and info["served_model"] == "gpt-4.1-2025-04-14-served"
    assert info["decoding"]["max_tokens"] == 1400 and "paper's judge" in info["standing"]
    assert res.metrics["O"] == pytest.approx(7.0)
    summary = suite.summarize([{"sample": item.sample, "output": res.output,
                                "metrics": res.metrics, "details": res.details}])  # fmt: skip
    assert summary["judge"]["comparable"] is True and summary["protocol"] == "official"


def test_official_parsing_reaches_local_judges_too(tmp_path, gedit_parquet):
    path = _qwen_folder(tmp_path, 8192, 80)
    official = GEditSuite(GEditConfig(source=str(gedit_parquet), protocol="official", judge="vlm",
                                      judge_options={"path": path}))  # fmt: skip
    assert official.judge_options == {"path": path, "parsing": "viescore"}
    strict = GEditSuite(GEditConfig(source=str(gedit_parquet), judge="vlm",
                                    judge_options={"path": path}))  # fmt: skip
    assert strict.judge_options == {"path": path, "parsing": "strict"}


def test_viescore_loop_asks_both_again_then_guesses(monkeypatch):
    """Round 1: SC unparseable, PQ fine -> both asked again; round 2: SC still unparseable ->
    VIEScore's random guess (seeded per sample), marked in the reason."""
    from hbench.tasks.gedit.judges import JudgeInput, make_judge

    monkeypatch.setenv("HB_TEST_KEY", "sk-local")
    script = [(200, "no idea"), (200, '{"score": [9, 4, 7]}'),  # round 1: SC fails
              (200, "still no idea"), (200, "[6, 5]")]  # round 2: both guessed  # fmt: skip
    sample = JudgeInput(Image.new("RGB", (8, 8)), Image.new("RGB", (8, 8)), "make it red")
    with LocalChatServer(script) as srv:
        judge = make_judge("openai", {"base_url": srv.url, "api_key_env": "HB_TEST_KEY",
                                      "parsing": "viescore"})  # fmt: skip
        scores = judge.judge(sample)
    assert len(srv.requests) == 4
    # VIEScore's quirk: on a give-up round a bare "[6, 5]" is not read but guessed as well.
    assert len(scores.sc_scores) == len(scores.pq_scores) == 1
    assert 0 <= scores.sc <= 10 and 0 <= scores.pq <= 10
    assert scores.attempts == {"sc": 2, "pq": 2}
    assert "guessed a random SC/PQ score" in scores.reason
    with LocalChatServer(script) as srv:  # the same sample guesses the same score
        again = make_judge("openai", {"base_url": srv.url, "api_key_env": "HB_TEST_KEY",
                                      "parsing": "viescore"}).judge(sample)  # fmt: skip
    assert (again.sc_scores, again.pq_scores) == (scores.sc_scores, scores.pq_scores)
    script = [(200, "no idea"), (200, "[9, 4]"), (200, '{"score": 3}'), (200, '{"score": [8]}')]
    with LocalChatServer(script) as srv:
        parsed = make_judge("openai", {"base_url": srv.url, "api_key_env": "HB_TEST_KEY",
                                       "parsing": "viescore"}).judge(sample)  # fmt: skip
    assert (parsed.sc_scores, parsed.pq_scores, parsed.reason) == ([3.0], [8.0], "")

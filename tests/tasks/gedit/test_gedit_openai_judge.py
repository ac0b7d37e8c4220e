"""The openai judge against a small OpenAI-compatible server on 127.0.0.1."""

import base64
import io

import pytest
from gedit_data_helpers import LocalChatServer
from PIL import Image

from hbench.tasks.gedit.judges import JudgeError, JudgeInput, make_judge
from hbench.tasks.gedit.viescore import PQ_PROMPT, sc_prompt


def _sample():
    src = Image.new("RGB", (16, 16), (200, 20, 20))
    out = Image.new("RGB", (16, 16), (20, 20, 200))
    return JudgeInput(src, out, "turn it blue")


def _images(request):
    parts = request["body"]["messages"][0]["content"]
    assert parts[0] == {
        "type": "text",
        "text": parts[0]["text"],
    }  # text first, as the official client
    out = []
    for p in parts[1:]:
        url = p["image_url"]["url"]
        assert url.startswith(("data:image/png;base64,", "data:image/jpeg;base64,"))
        out.append(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
    return parts[0]["text"], out


def test_openai_judge_prompts_images_and_retries(monkeypatch):
    script = [
        (200, "I cannot decide."),  # SC attempt 1: unparseable -> retried
        (200, '{"score": [8, 6], "reasoning": "ok"}'),  # SC attempt 2
        (200, '||V^=^V||{"score": [9, 4], "reasoning": "ok"}||V^=^V||'),  # PQ attempt 1
    ]
    monkeypatch.setenv("HB_TEST_KEY", "sk-local")
    with LocalChatServer(script) as srv:
        judge = make_judge(
            "openai", {"base_url": srv.url, "api_key_env": "HB_TEST_KEY", "model": "judge-x"}
        )
        scores = judge.judge(_sample())
    assert (scores.sc_scores, scores.pq_scores) == ([8.0, 6.0], [9.0, 4.0])
    assert (scores.sc, scores.pq, scores.overall) == (6.0, 4.0, pytest.approx(24**0.5))
    assert scores.attempts == {"sc": 2, "pq": 1} and scores.raw["sc"][0] == "I cannot decide."
    assert [r["path"] for r in srv.requests] == ["/v1/chat/completions"] * 3
    assert all(r["auth"] == "Bearer sk-local" for r in srv.requests)
    assert (
        srv.requests[0]["body"]["model"] == "judge-x"
        and srv.requests[0]["body"]["max_tokens"] == 1400
    )
    text, imgs = _images(srv.requests[0])
    assert text == sc_prompt("turn it blue")
    parts = srv.requests[0]["body"]["messages"][0]["content"][1:]
    assert all(p["image_url"]["url"].startswith("data:image/jpeg;") for p in parts)  # as official
    near = lambda a, b: max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 8  # noqa: E731 - JPEG
    assert len(imgs) == 2
    assert near(imgs[0].getpixel((0, 0)), (200, 20, 20)) and near(
        imgs[1].getpixel((0, 0)), (20, 20, 200)
    )
    text, imgs = _images(srv.requests[2])
    assert text == PQ_PROMPT and len(imgs) == 1 and near(imgs[0].getpixel((0, 0)), (20, 20, 200))


def test_openai_judge_png_images_are_exact(monkeypatch):
    monkeypatch.setenv("HB_TEST_KEY", "sk-local")
    script = [(200, '{"score": [1, 2]}'), (200, '{"score": [3, 4]}')]
    with LocalChatServer(script) as srv:
        opts = {"base_url": srv.url, "api_key_env": "HB_TEST_KEY", "image_format": "png"}
        make_judge("openai", opts).judge(_sample())
    _, imgs = _images(srv.requests[0])
    assert [im.getpixel((0, 0)) for im in imgs] == [(200, 20, 20), (20, 20, 200)]  # source, edited


def test_openai_judge_records_an_error_after_bounded_attempts(monkeypatch):
    script = [(500, "overloaded"), (200, '{"score": [12, 3]}'), (200, "no idea")]
    monkeypatch.setenv("HB_TEST_KEY", "sk-local")
    with LocalChatServer(script) as srv:
        judge = make_judge(
            "openai", {"base_url": srv.url, "api_key_env": "HB_TEST_KEY", "max_attempts": 3}
        )
        with pytest.raises(JudgeError) as info:
            judge.judge(_sample())
    assert len(srv.requests) == 3  # bounded: PQ is never asked once SC failed
    err = info.value
    assert err.attempts == 3 and "HTTP 500" in err.raw[0] and "overloaded" in err.raw[0]
    assert "outside 0-10" in str(err) and "no score list" in str(err)
    assert err.to_record()["raw"][2] == "no idea"


def test_openai_judge_needs_endpoint_and_key(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("HB_NO_KEY", raising=False)
    with pytest.raises(ValueError, match="no endpoint"):
        make_judge("openai").load()
    with pytest.raises(ValueError, match=r"\$HB_NO_KEY"):
        make_judge("openai", {"base_url": "http://127.0.0.1:9", "api_key_env": "HB_NO_KEY"}).load()
    with pytest.raises(ValueError, match="image_format must be one of jpeg, png"):
        make_judge("openai", {"base_url": "http://127.0.0.1:9", "image_format": "webp"}).load()
    with pytest.raises(ValueError, match="unknown option.*temprature"):
        make_judge("openai", {"temprature": 0})

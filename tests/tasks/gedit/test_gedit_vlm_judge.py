"""The vlm judge end to end offline with a tiny Qwen2-VL built from configs.

The model has random weights except its final norm, zeroed so that every logit is 0 and
greedy decoding always picks token id 0, which the tokenizer maps to a whole VIEScore
answer. So with one new token the answer parses; with more tokens it repeats and does not.
The scores are meaningless; the prompts, image passing, parsing, retries and error records
are the real code paths.
"""

import pytest
import torch
from PIL import Image

from hbench.tasks.gedit.judges import JudgeError, JudgeInput, make_judge
from hbench.tasks.gedit.viescore import PQ_PROMPT, sc_prompt

ANSWER = '{"score": [7, 3], "reasoning": "tiny"}'
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
            "<|video_pad|>", "<|endoftext|>"]  # fmt: skip
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_qwen2_vl(path):
    """Save a tiny Qwen2-VL (random weights) with a character-level tokenizer and processor."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    vocab = {w: i for i, w in enumerate([ANSWER] + [chr(c) for c in range(32, 127)] + ["\n"])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=" "))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.add_special_tokens(SPECIALS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    images = Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=56 * 56 * 4)
    Qwen2VLProcessor(image_processor=images, video_processor=Qwen2VLVideoProcessor(), tokenizer=fast,
                     chat_template=TEMPLATE).save_pretrained(path)  # fmt: skip
    ids = {t: fast.convert_tokens_to_ids(t) for t in SPECIALS}
    cfg = Qwen2VLConfig(
        text_config={"vocab_size": len(fast), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 4096,
                     "rope_scaling": {"type": "mrope", "mrope_section": [2, 2, 4]},
                     "bos_token_id": ids["<|im_start|>"], "eos_token_id": ids["<|im_end|>"],
                     "pad_token_id": ids["<|endoftext|>"]},
        vision_config={"depth": 1, "embed_dim": 16, "hidden_size": 32, "num_heads": 2, "mlp_ratio": 2,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "in_chans": 3},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(cfg)
    with torch.no_grad():
        model.model.language_model.norm.weight.zero_()  # all logits 0 -> greedy picks id 0 = ANSWER
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    return build_tiny_qwen2_vl(tmp_path_factory.mktemp("tiny_qwen2_vl"))


def _sample():
    return JudgeInput(Image.new("RGB", (32, 32), (220, 30, 30)), Image.new("RGB", (32, 32), (30, 60, 220)),
                      "change the color of the red square to blue .")  # fmt: skip


def test_vlm_judge_scores_a_sample(tiny_vlm):
    judge = make_judge("vlm", {"path": str(tiny_vlm), "max_new_tokens": 1})
    judge.load()
    scores = judge.judge(_sample())
    assert (scores.sc_scores, scores.pq_scores) == ([7.0, 3.0], [7.0, 3.0])
    assert (scores.sc, scores.pq, scores.overall) == (3.0, 3.0, 3.0)
    assert scores.attempts == {"sc": 1, "pq": 1} and scores.raw["sc"] == [ANSWER]
    # SC saw two images, PQ one; each image became vision rows of the model's input.
    assert [(c["images"], c["vision_rows"]) for c in judge.call_log] == [(2, 2), (1, 1)]
    proc = judge.processor
    sc_text = proc.apply_chat_template(
        judge.messages([], sc_prompt(_sample().instruction)), tokenize=False
    )
    assert sc_prompt(_sample().instruction) in sc_text and PQ_PROMPT not in sc_text


def test_vlm_judge_malformed_answers_are_retried_then_recorded(tiny_vlm):
    judge = make_judge("vlm", {"path": str(tiny_vlm), "max_new_tokens": 3, "max_attempts": 2})
    with pytest.raises(JudgeError) as info:
        judge.judge(_sample())
    err = info.value
    assert err.attempts == 2 and len(err.raw) == 2
    assert err.raw[0].count(ANSWER) == 3  # greedy: three copies of the answer token do not parse
    assert "no valid SC scores after 2 attempt(s)" in str(err)
    assert [c["attempt"] for c in judge.call_log] == [0, 1]  # the retry sampled


def test_vlm_judge_checks_its_path(tmp_path):
    with pytest.raises(ValueError, match="set judge option 'path'"):
        make_judge("vlm").load()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_judge("vlm", {"path": str(tmp_path / "nope")}).load()


def test_vlm_judge_in_the_suite_records_scores_and_errors(tiny_vlm, tmp_path):
    from hbench.harness.store import RunStore
    from hbench.tasks.gedit.shapes_source import edit_from_dict
    from hbench.tasks.gedit.suite import GEditConfig, GEditSuite
    from hbench.worlds.shapes import render

    store = RunStore(tmp_path / "run")
    results = {}
    for tokens in (1, 3):
        cfg = GEditConfig(samples_per_type=1, task_types=("color_alter",), judge="vlm", metrics=False,
                          judge_options={"path": str(tiny_vlm), "max_new_tokens": tokens, "max_attempts": 2})  # fmt: skip
        suite = GEditSuite(cfg)
        (item,) = suite.items(0)
        output = Image.fromarray(render(edit_from_dict(item.data["edit"]).expected))
        results[tokens] = suite.evaluate(item, output, store.artifacts("gedit", f"t{tokens}"))
    ok, bad = results[1], results[3]
    assert ok.metrics == {"SC": 3.0, "PQ": 3.0, "O": 3.0} and ok.details["judge_raw"]["sc"] == [
        ANSWER
    ]
    assert bad.metrics == {} and bad.details["judge_error"]["attempts"] == 2
    summary = GEditSuite(cfg).summarize(
        [{"output": bad.output, "metrics": bad.metrics, "details": bad.details}]
    )
    assert (summary["judged"], summary["judge_errors"], summary["overall"]) == (0, 1, None)
    store.close()

"""The hf family on tiny random transformers models: baseline vs spec, LM and LLaVA-style VLM."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hbench.baselines.hf.family import HFFamily, HFOptions
from hbench.baselines.hf.tiny import (
    build_tiny_draft,
    build_tiny_head,
    build_tiny_llava,
    build_tiny_lm,
)
from hbench.harness import plugins
from hbench.harness.system import CapabilityError, System

PROMPTS = ("what colour is the circle ?", "how many red square are there ?", "a big cat on the")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("hf")
    build_tiny_lm(d / "lm", "llama", seed=0)
    build_tiny_draft(d / "lm", d / "draft", noise=0.004)
    build_tiny_head(d / "lm", d / "head.safetensors")
    build_tiny_llava(d / "vlm", seed=0)
    build_tiny_head(d / "vlm", d / "vhead.safetensors")
    return d


def _load(variant: str, **options):
    system = plugins.SYSTEMS.get("hf").build(variant, HFOptions(**options))
    system.load("cpu", torch.float32)
    return system


def _image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))


def test_text_lm_baseline_matches_transformers_and_spec_is_identical(folders):
    base = _load("baseline", path=str(folders / "lm"))
    assert isinstance(base, System)
    specs = [
        _load("spec", path=str(folders / "lm"), draft_path=str(folders / "draft"), spec_k=k)
        for k in (1, 3, 6)
    ] + [_load("spec", path=str(folders / "lm"), head_path=str(folders / "head.safetensors"))]
    taus = []
    for prompt in PROMPTS:
        ref = base.understand([], prompt, 24)
        ids = torch.tensor([[base.eot_token_id - 1, *base.encode(prompt)]])  # BOS (id 1) + prompt
        hf = base.model.generate(ids, max_new_tokens=24, do_sample=False)[0, ids.shape[1] :]
        assert ref.token_ids == hf.tolist()[: len(ref.token_ids)]
        assert ref.stats["acceptance_length"] == 1.0
        for spec in specs:
            out = spec.understand([], prompt, 24)
            assert out.token_ids == ref.token_ids and out.text == ref.text
            taus.append(out.stats["acceptance_length"])
    assert max(taus) > 1.5  # the noisy draft model is accepted often: speculation happened


def test_llava_style_vlm_baseline_matches_transformers_and_spec_is_identical(folders):
    base = _load("baseline", path=str(folders / "vlm"))
    head = str(folders / "vhead.safetensors")
    specs = [
        _load("spec", path=str(folders / "vlm"), head_path=head, spec_k=3),
        _load("spec", path=str(folders / "vlm"), head_path=head, spec_k=5, head_skip_prefix=True),
    ]
    for i, prompt in enumerate(PROMPTS[:2]):
        img = _image(i)
        ref = base.understand([img], prompt, 16)
        batch = base.proc(text=f"<image> {prompt}", images=[img], return_tensors="pt")
        hf = base.model.generate(**batch, max_new_tokens=16, do_sample=False)
        assert ref.token_ids == hf[0, batch["input_ids"].shape[1] :].tolist()[: len(ref.token_ids)]
        for spec in specs:
            assert spec.understand([img], prompt, 16).token_ids == ref.token_ids
    # a different image changes the answer: the image really reaches the decoder
    assert (
        base.understand([_image(7)], PROMPTS[0], 16).token_ids
        != base.understand([_image(0)], PROMPTS[0], 16).token_ids
    )


def test_stop_strings_and_loglikelihood(folders):
    base = _load("baseline", path=str(folders / "lm"))
    spec = _load("spec", path=str(folders / "lm"), draft_path=str(folders / "draft"), spec_k=4)
    full = base.understand([], PROMPTS[2], 20)
    words = full.text.split()
    assert len(words) > 4
    stop = " " + words[3]
    cut = base.generate_text([], PROMPTS[2], 20, stop_strings=[stop])
    assert cut.stats["stop_reason"] == "stop_string" and stop not in cut.text
    assert full.text.startswith(cut.text)
    assert spec.generate_text([], PROMPTS[2], 20, stop_strings=[stop]).token_ids == cut.token_ids
    # loglikelihood: sum of per-token log-probs; the greedy continuation is flagged greedy
    ctx = [1, *base.encode(PROMPTS[2])]
    greedy_cont = full.token_ids[:3]
    lp, is_greedy = base.loglikelihood(ctx, greedy_cont)
    with torch.no_grad():
        logits = base.model(torch.tensor([ctx + greedy_cont])).logits[0].log_softmax(-1)
    manual = sum(logits[len(ctx) - 1 + i, t].item() for i, t in enumerate(greedy_cont))
    assert lp == pytest.approx(manual, abs=1e-4) and is_greedy
    other = [(greedy_cont[0] + 1) % 90 + 5]
    assert not base.loglikelihood(ctx, other)[1]
    assert spec.loglikelihood(ctx, greedy_cont) == (lp, is_greedy)


def test_options_are_checked_before_loading(folders, tmp_path):
    family = HFFamily
    with pytest.raises(ValueError, match="path"):
        family.build("baseline", HFOptions())
    with pytest.raises(FileNotFoundError, match="config.json"):
        family.build("baseline", HFOptions(path=str(tmp_path)))
    with pytest.raises(ValueError, match="exactly one drafter"):
        family.build("spec", HFOptions(path=str(folders / "lm")))
    with pytest.raises(ValueError, match="exactly one drafter"):
        family.build(
            "spec",
            HFOptions(
                path=str(folders / "lm"),
                draft_path=str(folders / "draft"),
                head_path=str(folders / "head.safetensors"),
            ),
        )
    with pytest.raises(FileNotFoundError, match="head_path"):
        family.build("spec", HFOptions(path=str(folders / "lm"), head_path=str(tmp_path / "x")))
    with pytest.raises(ValueError, match="spec_k"):
        HFOptions(path="x", spec_k=0)
    with pytest.raises(ValueError, match="Unknown hf variant"):
        family.build("fast", HFOptions(path=str(folders / "lm")))
    base = family.build("baseline", HFOptions(path=str(folders / "lm")))
    with pytest.raises(RuntimeError, match="not loaded"):
        base.understand([], "a", 2)
    base.load("cpu", torch.float32)
    with pytest.raises(CapabilityError, match="cannot take images"):
        base.understand([_image(0)], "a", 2)
    with pytest.raises(CapabilityError):
        base.generate("a", 0)
    json.dumps(base.describe())
    assert set(base.profiled_modules()) == {"language_model"}
    spec = _load("spec", path=str(folders / "lm"), head_path=str(folders / "head.safetensors"))
    assert set(spec.profiled_modules()) == {"language_model", "drafter"}

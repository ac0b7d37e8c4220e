"""Shapes understanding models: tokenizer, checked weights, engines' exactness, head alignment, resume."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hbench.baselines.runtime.decoding import DecodeConfig
from hbench.baselines.runtime.drafters import EagleHeadDrafter
from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig
from hbench.baselines.runtime.target import HFCausalLMTarget, Prompt
from hbench.baselines.shapes.training.understanding.data import caption_example, vqa_example
from hbench.baselines.shapes.training.understanding.reference_decode import hf_greedy
from hbench.baselines.shapes.training.understanding.train_head import unrolled_hidden
from hbench.baselines.shapes.understanding import build_text_engine
from hbench.baselines.shapes.understanding.model import ShapesVLM, TargetConfig, image_tensor
from hbench.baselines.shapes.understanding.tokenizer import (
    UNK,
    build_tokenizer,
    load_tokenizer,
    prompt_ids,
    save_tokenizer,
)
from hbench.baselines.shapes.understanding.weights import (
    HEAD_FILE,
    TARGET_FILE,
    TOKENIZER_FILE,
    WeightsError,
    load_tensors,
    save_tensors,
    write_entry,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: extra threads only spin."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A tiny random target + head written like the committed weights."""
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("w")
    tok = build_tokenizer()
    cfg = TargetConfig(len(tok), hidden=32, layers=2, heads=2, ffn=64, enc_channels=(8, 16, 16))
    model = ShapesVLM(cfg)
    with torch.no_grad():  # keep <eos> from winning at once so outputs have some length
        model.lm.get_input_embeddings().weight[tok.eos_token_id] = 0
    sd = dict(model.state_dict())
    sd.pop("lm.lm_head.weight")
    save_tensors(sd, d / TARGET_FILE, torch.float32)
    save_tokenizer(tok, d / TOKENIZER_FILE)
    write_entry(d, TARGET_FILE, {"config": cfg.to_dict()})
    write_entry(d, TOKENIZER_FILE, {})
    head = EagleHead(EagleHeadConfig.for_target(model.lm.config, feature_layers=(-1,)))
    head.save(d / HEAD_FILE)
    write_entry(d, HEAD_FILE, {})
    return d


def test_tokenizer_roundtrip(tmp_path):
    tok = build_tokenizer()
    text = caption_example(np.random.default_rng(0)).answer
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    assert tok.encode("zebra", add_special_tokens=False) == [tok.convert_tokens_to_ids(UNK)]
    save_tokenizer(tok, tmp_path / "t.json")
    assert load_tokenizer(tmp_path / "t.json").get_vocab() == tok.get_vocab()


def test_weights_are_checked(weights, tmp_path):
    assert "lm.model.embed_tokens.weight" in load_tensors(weights, TARGET_FILE)
    bad = tmp_path / "w"
    bad.mkdir()
    for f in weights.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    data = bytearray((bad / TARGET_FILE).read_bytes())
    data[-1] ^= 0xFF
    (bad / TARGET_FILE).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 .* does not match"):
        load_tensors(bad, TARGET_FILE)
    (bad / HEAD_FILE).write_bytes(pickle.dumps({"w": [1.0]}))
    write_entry(bad, HEAD_FILE, {})  # even with a matching checksum a pickle is refused
    with pytest.raises(WeightsError, match="pickle"):
        load_tensors(bad, HEAD_FILE)
    manifest = json.loads((bad / "understanding_manifest.json").read_text())
    del manifest["files"][TARGET_FILE]
    (bad / "understanding_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="no entry"):
        load_tensors(bad, TARGET_FILE)


def test_greedy_and_spec_are_token_identical_to_transformers(weights):
    greedy = build_text_engine("greedy", weights)
    spec = build_text_engine("spec", weights, k=3)
    greedy.load("cpu", torch.float32)
    spec.load("cpu", torch.float32)
    for i in range(4):
        ex = (caption_example if i % 2 else vqa_example)(np.random.default_rng(i))
        image = ex.image if i < 3 else None
        a = greedy.understand(image, ex.prompt, 12)
        b = spec.understand(image, ex.prompt, 12)
        ref = hf_greedy(greedy.model, greedy.tok, image, ex.prompt, 12)
        assert a.token_ids == ref[: len(a.token_ids)] and len(a.token_ids) == len(ref)
        assert b.token_ids == a.token_ids and b.text == a.text
        assert b.stats["draft_forwards"] > 0 and a.stats["acceptance_length"] == 1.0
    assert set(spec.modules()) == {"language_model", "drafter"}
    assert spec.describe()["k"] == 3


@torch.inference_mode()
def test_unrolled_training_matches_what_the_drafter_computes(weights):
    from hbench.baselines.shapes.understanding.loading import load_head, load_target

    model, tok = load_target(weights)
    head = load_head(weights)
    ex = caption_example(np.random.default_rng(1))
    ids = torch.tensor(prompt_ids(tok, ex.prompt))
    embeds = model.embed_prompt(image_tensor(ex.image), ids[None])[0]
    target = HFCausalLMTarget(model.lm, feature_layers=(-1,))
    drafter = EagleHeadDrafter(head, skip_prefix=True)
    prompt = Prompt(inputs_embeds=embeds, prefix_len=model.prefix_len)
    target.start(64)
    out = target.prefill(prompt)
    first = int(out.logits[-1].argmax())
    seen = []
    hook = head.register_forward_hook(lambda m, a, o: seen.append(o[0, -1].clone()))
    drafter.begin(target, prompt, out, first, 32)
    draft = drafter.propose(3, DecodeConfig(max_new_tokens=8), None)
    hook.remove()
    # The same chain, teacher-forced on the drafted tokens, through the training path.
    full = torch.cat([ids, torch.tensor([first, *draft.tokens])])
    emb = model.embed_prompt(image_tensor(ex.image), full[None])
    feats = model.lm.model(inputs_embeds=emb).last_hidden_state
    steps = unrolled_hidden(head, feats, emb, model.prefix_len, 3)
    chain = len(embeds) - 1 - model.prefix_len  # chain starting at the last prompt position
    for s in range(3):
        assert torch.allclose(steps[s][0, chain], seen[s], atol=1e-4), f"step {s}"


def test_target_training_resumes_exactly(tmp_path):
    from hbench.baselines.shapes.training.understanding.train_target import main

    common = [
        "--batch",
        "3",
        "--hidden",
        "32",
        "--layers",
        "1",
        "--ffn",
        "64",
        "--eval-n",
        "1",
        "--eval-every",
        "1000",
    ]
    main(["--out", str(tmp_path / "a"), "--steps", "2", *common])
    main(["--out", str(tmp_path / "a"), "--steps", "4", *common])  # resumes at step 2
    main(["--out", str(tmp_path / "b"), "--steps", "4", *common])
    a = load_file(str(tmp_path / "a" / "ckpt.safetensors"))
    b = load_file(str(tmp_path / "b" / "ckpt.safetensors"))
    assert json.loads((tmp_path / "a" / "ckpt.json").read_text())["step"] == 4
    # a's first two steps used a 2-step schedule (still in warm-up, so identical LR)
    assert all(torch.equal(a[k], b[k]) for k in b)


def test_probe_maps_mark_each_object_centre_with_its_shape_and_colour():
    from hbench.baselines.shapes.training.understanding.data import collate
    from hbench.worlds.shapes import COLORS, SHAPES

    tok = build_tokenizer()
    examples = [caption_example(np.random.default_rng(i)) for i in range(4)]
    batch = collate(tok, examples, 16)
    for i, ex in enumerate(examples):
        for cx, cy, shape, color in ex.objects:
            cell = (i, int(cy // 4), int(cx // 4))
            assert batch["shape_map"][cell] == 1 + SHAPES.index(shape)
            assert batch["color_map"][cell] == 1 + COLORS.index(color)
        assert (batch["color_map"][i] > 0).sum() == len(ex.objects)  # distinct centre cells


def test_probes_train_but_are_never_exported(tmp_path):
    """``--aux-shape`` / ``--aux-color`` add losses; the exported target has no probe tensors."""
    from hbench.baselines.shapes.training.understanding import export
    from hbench.baselines.shapes.training.understanding.train_target import main
    from hbench.baselines.shapes.understanding.loading import load_target

    common = ["--batch", "3", "--hidden", "32", "--layers", "1", "--ffn", "64",
              "--eval-n", "1", "--eval-every", "1000", "--steps", "1"]  # fmt: skip
    main(["--out", str(tmp_path / "plain"), *common])
    main(["--out", str(tmp_path / "probed"), "--aux-shape", "1", "--aux-color", "1", *common])
    plain = load_file(str(tmp_path / "plain" / "ckpt.safetensors"))
    probed = load_file(str(tmp_path / "probed" / "ckpt.safetensors"))
    for probe in ("aux_shape", "aux_color"):  # trained only when asked for
        key = f"model.{probe}.weight"
        assert not torch.equal(plain[key], probed[key])
    w = tmp_path / "w"
    argv = ["--ckpt", str(tmp_path / "probed"), "--weights-dir", str(w), "--command", "test"]
    assert export.main([*argv, "--eval-n", "1"]) == 0
    assert not any(k.startswith("aux_") for k in load_tensors(w, TARGET_FILE))
    model, _ = load_target(w)
    assert model.aux_color.weight.shape[0] == 7  # present in the module, untrained


def test_vqa_response_formats_end_with_the_answer():
    from hbench.worlds.shapes import final_answer

    for i in range(20):
        word = vqa_example(np.random.default_rng(i))
        for response in ("reasoned", "restated"):
            long = vqa_example(np.random.default_rng(i), response=response)
            assert word.target_text == word.answer == long.answer  # same scene, same question
            assert long.target_text.startswith(("one object .", "two objects .", "three", "four"))
            assert final_answer(long.target_text) == long.answer


def test_keyed_responses_answer_by_copying_what_follows_the_key_in_the_list():
    """The repeated key occurs in the object list, and the answer follows it there.

    For count questions the list names each object's shape and the answer is the count of
    the key's singular in it; for relations the key names both objects with their cells.
    """
    from hbench.baselines.shapes.training.understanding.data import keyed_response
    from hbench.worlds.shapes import QA, QA_KINDS, final_answer
    from hbench.worlds.shapes.scene import NUMBER_WORDS

    seen = set()
    for i in range(60):
        kind = QA_KINDS[i % len(QA_KINDS)]
        ex = vqa_example(np.random.default_rng(i), kind=kind, response="keyed")
        *items, tail = ex.target_text.split(" . ")
        assert final_answer(ex.target_text) == ex.answer == tail.split()[-1]
        key = tail.split()[:-1]
        n = len(ex.objects)
        assert len(items) == n
        if kind == "count":
            singular = key[0][:-1]
            assert NUMBER_WORDS[sum(item == singular for item in items)] == ex.answer
        elif kind == "relation":  # key = the two objects' list items, in question order
            pairs = [(x, y) for x in items for y in items if x != y and f"{x} {y}" == " ".join(key)]
            assert len(pairs) == 1
            first, second = (item.split() for item in pairs[0])
            assert ex.prompt.startswith(f"is the {first[0]} {first[1]} ")
            assert ex.prompt.endswith(f" the {second[0]} {second[1]} ?")
            # the cells alone decide the relation: the key carries the answer
            axis = (
                ("top", "bottom")
                if ("above" in ex.prompt or "below" in ex.prompt)
                else ("left", "right")
            )
            rank = [-1 if axis[0] in c else (1 if axis[1] in c else 0) for c in (first, second)]
            truth = "above" if axis[0] == "top" else "left of"
            holds = rank[0] < rank[1] if truth in ex.prompt else rank[0] > rank[1]
            assert ex.answer == ("yes" if holds else "no")
        else:  # colour / shape: "<key> <answer>" is one of the items
            assert f"{key[0]} {ex.answer}" in items
        seen.add(kind)
    assert seen == set(QA_KINDS)
    with pytest.raises(ValueError, match="no keyed response"):
        keyed_response(None, QA("size", "how big ?", "big"))


def test_marked_responses_mark_exactly_the_queried_objects_and_repeat_them():
    from hbench.worlds.shapes import QA_KINDS, final_answer

    for i in range(60):
        kind = QA_KINDS[i % len(QA_KINDS)]
        keyed = vqa_example(np.random.default_rng(i), kind=kind, response="keyed")
        ex = vqa_example(np.random.default_rng(i), kind=kind, response="marked")
        assert final_answer(ex.target_text) == ex.answer
        if kind == "count":
            assert ex.target_text == keyed.target_text
            continue
        *items, tail = ex.target_text.split(" . ")
        marks = ("one", "two") if kind == "relation" else ("yes",)
        marked = [item for item in items if item.split()[0] in marks]
        assert sorted(m.split()[0] for m in marked) == sorted(marks)
        by_mark = sorted(marked, key=lambda m: marks.index(m.split()[0]))
        repeated = " ".join(by_mark)
        assert tail in (repeated, f"{repeated} {ex.answer}")
        if kind == "color":  # the marked item is the question's shape, then its colour
            assert by_mark[0].split()[1:] == [ex.prompt.split()[4], ex.answer]
        elif kind == "shape":
            assert by_mark[0].split()[1:] == [ex.prompt.split()[4], ex.answer]
        else:  # relation: the marked items name the question's objects, in order
            assert ex.prompt.startswith(f"is the {' '.join(by_mark[0].split()[1:3])} ")
            assert ex.prompt.endswith(f" the {' '.join(by_mark[1].split()[1:3])} ?")


@pytest.mark.parametrize("response", ["flagged", "flagged-lookup"])
def test_flagged_responses_flag_the_queried_objects_after_their_key_and_copy_what_follows(
    response,
):
    from hbench.worlds.shapes import QA_KINDS, final_answer

    flagged_kinds = {"color", "shape", "relation"} if response == "flagged" else {"color", "shape"}
    for i in range(60):
        kind = QA_KINDS[i % len(QA_KINDS)]
        keyed = vqa_example(np.random.default_rng(i), kind=kind, response="keyed")
        ex = vqa_example(np.random.default_rng(i), kind=kind, response=response)
        assert final_answer(ex.target_text) == ex.answer
        if kind not in flagged_kinds:
            assert ex.target_text == keyed.target_text
            continue
        *items, tail = ex.target_text.split(" . ")
        # with the flags taken out, the list is the keyed list
        marks = ("one", "two") if kind == "relation" else ("yes",)
        plain = [" ".join(w for w in item.split() if w not in marks) for item in items]
        assert plain == keyed.target_text.split(" . ")[:-1]
        words = ex.prompt.split()
        if kind == "relation":  # "<colour> <shape> one <cell>": the question's objects, in order
            first = next(item.split() for item in items if "one" in item.split())
            second = next(item.split() for item in items if "two" in item.split())
            assert first[2] == "one" and second[2] == "two"
            assert ex.prompt.startswith(f"is the {first[0]} {first[1]} ")
            assert ex.prompt.endswith(f" the {second[0]} {second[1]} ?")
            cells = " ".join(["one", *first[3:], "two", *second[3:]])
            assert tail == f"{cells} {ex.answer}"
        else:  # "<key> yes <answer>" once, the key being the question's word; tail "yes <answer>"
            flagged = [item.split() for item in items if "yes" in item.split()]
            assert flagged == [[words[4], "yes", ex.answer]]
            assert tail == f"yes {ex.answer}"


def test_answer_weight_targets_the_answer_word_of_reasoned_responses():
    from hbench.baselines.shapes.training.understanding.data import collate
    from hbench.baselines.shapes.training.understanding.train_target import weighted_loss

    tok = build_tokenizer()
    exs = [vqa_example(np.random.default_rng(3), response="reasoned"),
           caption_example(np.random.default_rng(1)), vqa_example(np.random.default_rng(4))]  # fmt: skip
    batch = collate(tok, exs, prefix_len=4)
    marked = batch["answer_pos"].nonzero().tolist()
    assert len(marked) == 1 and marked[0][0] == 0  # only the reasoned response has one
    assert tok.decode([int(batch["labels"][tuple(marked[0])])]) == exs[0].answer
    # logits right everywhere except at the answer word: only the weighted loss sees it grow
    labels = batch["labels"]
    logits = torch.full((*labels.shape, len(tok)), -10.0)
    nxt = labels[:, 1:].clamp(min=0)
    logits[:, :-1].scatter_(-1, nxt[..., None], 10.0)
    b, t = marked[0]
    logits[b, t - 1] = 0.0  # uniform at the position predicting the answer
    plain = weighted_loss(logits, labels, batch["answer_pos"], 1.0)
    heavy = weighted_loss(logits, labels, batch["answer_pos"], 10.0)
    assert torch.allclose(plain, weighted_loss(logits, labels))
    assert heavy > 3 * plain


def test_target_fine_tunes_from_a_weights_folder(weights, tmp_path):
    """``--init-from`` starts from the committed target (not a random init), any response format."""
    from hbench.baselines.shapes.training.understanding.train_target import main
    from hbench.baselines.shapes.understanding.loading import load_target

    out = tmp_path / "ft"
    args = ["--init-from", str(weights), "--vqa-response", "reasoned", "--batch", "2",
            "--eval-n", "1", "--eval-every", "1000", "--lr", "1e-9", "--warmup", "1"]  # fmt: skip
    main(["--out", str(out), "--steps", "1", *args])
    init, _ = load_target(weights)
    tuned = load_file(str(out / "ckpt.safetensors"))
    emb = "model.lm.model.embed_tokens.weight"
    # a 1e-9 step: the weights are still the committed ones (fp16 values), not a fresh init
    assert torch.allclose(tuned[emb], init.lm.model.embed_tokens.weight, atol=1e-5)
    with pytest.raises(ValueError, match="--hidden 48 disagrees with the target in"):
        main(["--out", str(tmp_path / "bad"), "--steps", "1", "--hidden", "48", *args])


def test_committed_weights_verify_and_spec_is_exact():
    """The shipped weights load through the checksum check and spec decoding reproduces greedy."""
    from hbench.baselines.shapes.understanding.weights import WEIGHTS_DIR, read_manifest

    files = (
        read_manifest(WEIGHTS_DIR)["files"]
        if (WEIGHTS_DIR / "understanding_manifest.json").is_file()
        else {}
    )
    if HEAD_FILE not in files or TARGET_FILE not in files:
        pytest.skip("understanding weights not committed yet")
    greedy = build_text_engine("greedy")
    spec = build_text_engine("spec", k=5)
    greedy.load("cpu", torch.float32)
    spec.load("cpu", torch.float32)
    ex = caption_example(np.random.default_rng([123, 4]))
    a = greedy.understand(ex.image, ex.prompt, 32)
    b = spec.understand(ex.image, ex.prompt, 32)
    assert b.token_ids == a.token_ids
    assert b.stats["acceptance_length"] > 1.0  # a trained head gets drafts accepted


def test_flagged_axis_flags_lookups_with_a_word_no_question_has_and_reduces_relation_cells():
    from hbench.worlds.shapes import QA_KINDS

    rank = {"top": 0, "left": 0, "center": 1, "bottom": 2, "right": 2}
    for i in range(80):
        kind = QA_KINDS[i % len(QA_KINDS)]
        flagged = vqa_example(np.random.default_rng(i), kind=kind, response="flagged")
        ex = vqa_example(np.random.default_rng(i), kind=kind, response="flagged-axis")
        assert "with" not in ex.prompt.split()
        if kind in ("color", "shape", "count"):  # only the flag word differs
            assert ex.target_text.split() == [
                "with" if w == "yes" else w for w in flagged.target_text.split()
            ]
            continue
        *items, tail = ex.target_text.split(" . ")
        assert items == flagged.target_text.split(" . ")[:-1]
        one, a, two, b, answer = tail.split()
        assert (one, two, answer) == ("one", "two", ex.answer)
        cell = {
            w[0]: " ".join(w[1:]) for w in (f.split()[2:] for f in items) if w[0] in ("one", "two")
        }
        vertical = " above " in ex.prompt or " below " in ex.prompt
        for word, c in ((a, cell["one"]), (b, cell["two"])):
            ends = ("top", "bottom") if vertical else ("left", "right")
            assert word == next((w for w in c.split() if w in ends), "center")
        first_before = rank[a] < rank[b]
        asks_before = " above " in ex.prompt or " left of " in ex.prompt
        assert answer == ("yes" if first_before == asks_before and rank[a] != rank[b] else "no")

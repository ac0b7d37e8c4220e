"""The family against the official BAGEL code (tiny random model; the checkout is
``$HBENCH_BAGEL_CHECKOUT`` or the shared fixture ``../shared/vendor/bagel-056b5fd``).

Parity is checked against BAGEL's own entry points: ``Bagel.generate_image`` for the sampler
on the same contexts and noise (bit-exact), the eval scripts' own functions
(``eval/gen/gen_images_mp.py::generate_image`` for GenEval, ``eval/gen/gedit/
gen_images_gedit.py::editing_with_text_img_cfg`` for GEdit) end to end with the same seed
(latents and pixels bit-exact), ``Bagel.chat`` for understanding (same text); NFE is the
profiler's forward-hook count on the generator role.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hbench.baselines.bagel.contexts import edit_inputs, t2i_inputs
from hbench.baselines.bagel.generator import BagelGenerator, sample_latent
from hbench.baselines.bagel.options import BagelOptions, DistilledOptions
from hbench.baselines.bagel.schedule import COND, GEDIT, GENEVAL, NFE1, NO_IMAGE, NO_TEXT, nfe
from hbench.baselines.bagel.system import BagelSystem
from hbench.harness.profiler import profile_sample
from hbench.harness.system import GENERATOR

PROMPT = "a red cube left of a blue ball"


@pytest.fixture(scope="module")
def s(tiny_session):
    lm_head = tiny_session.model.language_model.lm_head.weight
    with torch.no_grad():  # keep the random model from stopping at once: EOS logit 0
        lm_head[tiny_session.new_token_ids["eos_token_id"]] = 0.0
    return tiny_session


def _image(seed: int = 0, size: tuple[int, int] = (56, 40)) -> Image.Image:
    rng = np.random.RandomState(seed)
    return Image.fromarray((rng.rand(size[1], size[0], 3) * 255).astype("uint8"))


def _reference(s, inp, cfg):
    """Bagel.generate_image on the same contexts and noise."""
    b = inp.branches
    kw = {}
    for name, pre in ((NO_TEXT, "cfg_text_"), (NO_IMAGE, "cfg_img_")):
        if name in b:
            kw.update({
                f"{pre}past_key_values": b[name].past_key_values,
                f"{pre}packed_position_ids": b[name].packed_position_ids,
                f"{pre}key_values_lens": b[name].key_values_lens,
                f"{pre}packed_query_indexes": b[name].packed_query_indexes,
                f"{pre}packed_key_value_indexes": b[name].packed_key_value_indexes,
            })  # fmt: skip
    with s.amp():
        out = s.model.generate_image(
            packed_text_ids=inp.packed_text_ids, packed_text_indexes=inp.packed_text_indexes,
            packed_init_noises=inp.noise[0].clone(), packed_vae_position_ids=inp.packed_vae_position_ids,
            packed_vae_token_indexes=inp.packed_vae_token_indexes, packed_seqlens=inp.packed_seqlens,
            packed_position_ids=b[COND].packed_position_ids, packed_indexes=b[COND].packed_query_indexes,
            past_key_values=b[COND].past_key_values, key_values_lens=b[COND].key_values_lens,
            packed_key_value_indexes=b[COND].packed_key_value_indexes,
            num_timesteps=cfg.num_timesteps, timestep_shift=cfg.timestep_shift,
            cfg_text_scale=cfg.cfg_text_scale, cfg_img_scale=cfg.cfg_img_scale,
            cfg_interval=list(cfg.cfg_interval), cfg_renorm_min=cfg.cfg_renorm_min,
            cfg_renorm_type=cfg.cfg_renorm_type, **kw,
        )  # fmt: skip
    return out[0]


def _script(checkout: Path, rel: str):
    """An official eval script imported as a module (its ``__main__`` block does not run)."""
    name = "bagel_eval_" + Path(rel).stem
    spec = importlib.util.spec_from_file_location(name, checkout / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _autocast_on_cpu(monkeypatch) -> None:
    """The scripts' ``torch.amp.autocast("cuda", ...)`` runs as CPU autocast (no GPU here)."""
    cuda_autocast = torch.amp.autocast

    def cpu(device_type, *args, **kwargs):
        return cuda_autocast("cpu", *args, **kwargs)

    monkeypatch.setattr(torch.amp, "autocast", cpu)


def _record_decodes(monkeypatch, s) -> list[torch.Tensor]:
    """Every latent handed to the shared VAE's ``decode`` (both paths decode through it)."""
    seen: list[torch.Tensor] = []
    decode = s.vae.decode

    def spy(z):
        seen.append(z.detach().clone())
        return decode(z)

    monkeypatch.setattr(s.vae, "decode", spy)
    return seen


def _ours(s, inp, cfg):
    gen = BagelGenerator(s.model)
    with profile_sample({GENERATOR: gen}) as prof, s.amp():
        latent = sample_latent(gen, inp, cfg)
    return latent[0], prof.to_dict()


def test_t2i_sampler_is_generate_image_and_counts_98(s) -> None:
    inp = t2i_inputs(s, PROMPT, 64, seed=3)
    ours, prof = _ours(s, inp, GENEVAL)
    assert torch.equal(ours, _reference(s, inp, GENEVAL))
    assert not torch.equal(ours, inp.noise[0])
    assert prof["nfe"] == nfe(GENEVAL).nfe == 98 and prof["merged_calls"] == 98


def test_edit_sampler_is_generate_image_and_counts_131(s) -> None:
    inp = edit_inputs(s, _image(), "make the background blue", 5, 64, 32, use_vit=True)
    assert inp.image_shape == (32, 64) and set(inp.branches) == {COND, NO_TEXT, NO_IMAGE}
    ours, prof = _ours(s, inp, GEDIT)
    assert torch.equal(ours, _reference(s, inp, GEDIT))
    assert prof["nfe"] == nfe(GEDIT).nfe == 131


def _options(tiny_bagel, **kw) -> BagelOptions:
    checkout, weights, _ = tiny_bagel
    return BagelOptions(
        checkout=str(checkout), weights=str(weights), t2i_resolution=64, edit_max_size=64,
        edit_min_size=32, **kw,
    )  # fmt: skip


def _system(tiny_bagel, variant: str, **kw) -> BagelSystem:
    system = BagelSystem(variant, _options(tiny_bagel, **kw), pool=tiny_bagel[2])
    system.load("cpu", torch.float32)
    return system


def _disturb_global_rng() -> None:
    torch.manual_seed(12345)
    torch.randn(777)


def test_generate_is_the_geneval_scripts_generate_image(s, tiny_bagel, monkeypatch) -> None:
    # gen_images_mp.generate_image at run_geneval.sh's settings (cfg_scale 4, interval [0, 1],
    # renorm_min 0, shift 3, 50 timesteps, global renorm), batch 1, seeded as hbench seeds a
    # sample; its output cropped to getbbox() as the script's main loop saves it.
    mp = _script(tiny_bagel[0], "eval/gen/gen_images_mp.py")
    mp.gen_model = mp.model = s.model  # the globals its __main__ block sets
    mp.tokenizer, mp.new_token_ids, mp.vae_model = s.tokenizer, s.new_token_ids, s.vae
    _autocast_on_cpu(monkeypatch)
    decoded = _record_decodes(monkeypatch, s)
    system = _system(tiny_bagel, "baseline")
    for seed in (0, 11):
        torch.manual_seed(seed)
        (want,) = mp.generate_image(
            PROMPT, num_timesteps=50, cfg_scale=4.0, cfg_interval=[0, 1.0], cfg_renorm_min=0.0,
            timestep_shift=3.0, num_images=1, resolution=64, device="cpu",
        )  # fmt: skip
        want = want.crop(want.getbbox())
        _disturb_global_rng()
        got = system.generate(PROMPT, seed=seed)
        official_latent, our_latent = decoded[-2:]
        assert torch.equal(our_latent, official_latent)
        assert np.array_equal(np.asarray(got), np.asarray(want)) and got.size == want.size


def test_edit_is_the_gedit_scripts_editing_with_text_img_cfg(s, tiny_bagel, monkeypatch) -> None:
    # editing_with_text_img_cfg as process_dataset calls it (inside a bfloat16 autocast; text
    # 4.0, image 1.5, interval [0.4, 1], text_channel, shift 3, ViT on, the transform's sizes);
    # the script seeds itself (set_seeds(seed), then the VAE posterior sample, then the noise).
    gedit = _script(tiny_bagel[0], "eval/gen/gedit/gen_images_gedit.py")
    _autocast_on_cpu(monkeypatch)
    decoded = _record_decodes(monkeypatch, s)
    system = _system(tiny_bagel, "baseline")
    resize = s.vae_transform.resize_transform
    for seed, img in ((0, _image(6)), (42, _image(7, (40, 56)))):
        with torch.amp.autocast("cuda", enabled=True, dtype=torch.bfloat16):
            want = gedit.editing_with_text_img_cfg(
                model=s.model, vae_model=s.vae, tokenizer=s.tokenizer,
                new_token_ids=s.new_token_ids, vae_transform=s.vae_transform,
                vit_transform=s.vit_transform, image=img, prompt="make it red",
                cfg_text_scale=4.0, cfg_img_scale=1.5, cfg_type="serial_text_img",
                cfg_interval=[0.4, 1.0], cfg_renorm_min=0.0, cfg_renorm_type="text_channel",
                timestep_shift=3.0, seed=seed, max_image_size=resize.max_size,
                min_image_size=resize.min_size, use_vit=True, use_think=False, device="cpu",
            )  # fmt: skip
        _disturb_global_rng()
        got = system.edit(img, "make it red", seed=seed)
        official_latent, our_latent = decoded[-2:]
        assert torch.equal(our_latent, official_latent)
        assert np.array_equal(np.asarray(got), np.asarray(want)) and got.size == want.size


def test_understand_is_chat(s, tiny_bagel) -> None:
    system = _system(tiny_bagel, "baseline")
    img, q = _image(1), "What is in the picture?"
    with s.amp():
        want = s.model.chat(s.tokenizer, dict(s.new_token_ids), s.und_transform, images=[img],
                            prompt=q, max_length=12)  # fmt: skip
    got = system.understand([img], q, max_new_tokens=12)
    assert got.text == want and len(got.token_ids) == 11  # max_length counts the start token
    assert system.understand([img], q, 1).text == ""


def test_spec_is_lossless(s, tiny_bagel, tmp_path: Path) -> None:
    from hbench.baselines.runtime.eagle import EagleHead, EagleHeadConfig

    torch.manual_seed(0)
    head = EagleHead(EagleHeadConfig(hidden_size=64, num_attention_heads=4, intermediate_size=64))
    head.save(tmp_path / "head.safetensors")
    base = _system(tiny_bagel, "baseline")
    spec = _system(tiny_bagel, "spec", head=str(tmp_path / "head.safetensors"), spec_k=3)
    for i in range(2):
        img, q = _image(10 + i), f"Describe image {i}."
        a, b = base.understand([img], q, 16), spec.understand([img], q, 16)
        assert a.token_ids == b.token_ids and a.text == b.text
        assert b.stats["target_forwards"] >= 2 and b.stats["draft_forwards"] > 0


class OracleDrafter:
    """Proposes the known greedy continuation, wrong at every third drafted token."""

    feature_layers = None

    def __init__(self, tokens: list[int]) -> None:
        self.tokens, self.forwards, self.pos, self.drafted = tokens, 0, 1, 0

    def begin(self, target, prompt, prefill, first_token, max_len) -> None:
        assert first_token == self.tokens[0]

    def propose(self, k, config, generator):
        from hbench.baselines.runtime.drafters import DraftResult

        out = []
        for t in self.tokens[self.pos : self.pos + k]:
            self.drafted += 1
            out.append(t if self.drafted % 3 else (t + 1) % 256)
        self.forwards += 1
        return DraftResult(out)

    def commit(self, accepted, tokens, features) -> None:
        self.pos += len(tokens)


def test_target_rollback_with_long_accepts(s) -> None:
    from hbench.baselines.bagel.target import BagelTarget
    from hbench.baselines.runtime.decoding import DecodeConfig
    from hbench.baselines.runtime.greedy import plain_decode
    from hbench.baselines.runtime.speculative import speculative_decode

    config = DecodeConfig(max_new_tokens=14, eos_token_ids=(s.new_token_ids["eos_token_id"],))
    target = BagelTarget(s)
    plain = plain_decode(target, target.prepare([_image(3)], "count the shapes"), config)
    spec = speculative_decode(
        target,
        OracleDrafter(plain.token_ids),
        target.prepare([_image(3)], "count the shapes"),
        config,
        4,
    )
    assert spec.token_ids == plain.token_ids
    st = spec.stats
    assert st.acceptance_length > 1.5 and st.accepted_per_position[1] > 0  # multi-token commits
    assert sum(st.drafted_per_position) > sum(
        st.accepted_per_position
    )  # and rejections rolled back


def test_system_generate_edit_and_students(s, tiny_bagel, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    base = _system(tiny_bagel, "baseline")
    params = dict(s.model.named_parameters())
    target = "language_model.model.layers.0.mlp_moe_gen.down_proj"
    w = params[f"{target}.weight"]
    torch.manual_seed(1)
    lora = {
        f"{target}.lora_A.weight": torch.randn(2, w.shape[1]),
        f"{target}.lora_B.weight": torch.randn(w.shape[0], 2),
    }
    save_file(lora, str(tmp_path / "nfe6.safetensors"), metadata={"lora_alpha": "2", "r": "2"})
    save_file(
        {"llm2vae.weight": torch.randn_like(params["llm2vae.weight"])},
        str(tmp_path / "nfe1.safetensors"),
    )
    nfe6 = _system(
        tiny_bagel, "nfe6", nfe6=DistilledOptions(weights=str(tmp_path / "nfe6.safetensors"))
    )
    nfe1 = _system(tiny_bagel, "nfe1", nfe1=DistilledOptions(
        weights=str(tmp_path / "nfe1.safetensors"), t2i=NFE1, edit=NFE1))  # fmt: skip
    img = _image(4)
    counts = {}
    outputs = {}
    for name, system in (("baseline", base), ("nfe6", nfe6), ("nfe1", nfe1)):
        with profile_sample(system.profiled_modules()) as p1:
            outputs[name] = np.asarray(system.generate(PROMPT, seed=7))
        with profile_sample(system.profiled_modules()) as p2:
            edited = system.edit(img, "add a hat", seed=7)
        counts[name] = (p1.to_dict()["nfe"], p2.to_dict()["nfe"])
        assert edited.size == (64, 32)
    assert counts == {"baseline": (98, 131), "nfe6": (6, 6), "nfe1": (1, 1)}
    assert outputs["baseline"].shape == (64, 64, 3)
    assert not np.array_equal(outputs["baseline"], outputs["nfe6"])
    # The students' tensors were swapped back: the baseline reproduces itself exactly.
    assert np.array_equal(np.asarray(base.generate(PROMPT, seed=7)), outputs["baseline"])
    assert nfe6.describe()["swapped_tensors"] == 1 and base.describe()["t2i"]["nfe"] == 98


def test_kernels_variant_matches_baseline(s, tiny_bagel) -> None:
    base, fused = _system(tiny_bagel, "baseline"), _system(tiny_bagel, "kernels")
    a = np.asarray(base.generate(PROMPT, seed=9)).astype(int)
    b = np.asarray(fused.generate(PROMPT, seed=9)).astype(int)
    assert np.abs(a - b).max() <= 2  # same math; the CFG combine may round differently in bf16
    img, q = _image(5), "What colour?"
    assert base.understand([img], q, 8).token_ids == fused.understand([img], q, 8).token_ids
    assert fused.describe()["kernels"] is True and base.describe()["kernels"] is False

"""The diffusers family on a tiny pipeline saved to disk and loaded from its path, as a user's would be."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hbench.baselines.diffusers.family import DiffusersFamily, DiffusersOptions
from hbench.baselines.diffusers.tiny import build_tiny_lora, build_tiny_sd, build_tiny_student
from hbench.harness import plugins
from hbench.harness.system import GENERATE, CapabilityError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusers")
    pipe = build_tiny_sd(root / "pipe")
    return {
        "pipe": str(pipe),
        "lora": str(build_tiny_lora(pipe, root / "lora")),
        "student": str(build_tiny_student(pipe, root / "student")),
    }


def loaded(variant: str, **options):
    system = DiffusersFamily.build(variant, DiffusersOptions(**options))
    system.load("cpu", torch.float32)
    return system


def generate_counting(system, prompt: str = "a photo of a red circle", seed: int = 0):
    """One image and the generator's (calls, batch rows) counted by a forward hook."""
    calls, rows = [], []

    def hook(module, args, kwargs):
        calls.append(1)
        rows.append(args[0].shape[0])

    handle = system.profiled_modules()["generator"].register_forward_pre_hook(
        hook, with_kwargs=True
    )
    try:
        image = system.generate(prompt, seed)
    finally:
        handle.remove()
    return image, len(calls), sum(rows)


def test_family_is_registered():
    family = plugins.SYSTEMS.get("diffusers")
    assert family is DiffusersFamily and family.reference == "baseline"
    assert set(family.variants) == {"baseline", "few-step", "scheduler", "lora", "distilled"}


def test_baseline_uses_pipeline_defaults_and_counts_cfg_as_two(tiny):
    default = loaded("baseline", path=tiny["pipe"])
    assert (default.steps, default.guidance) == (
        50,
        7.5,
    )  # StableDiffusionPipeline's standard settings
    assert default.describe()["pipeline"] == "StableDiffusionPipeline"
    system = loaded("baseline", path=tiny["pipe"], steps=3)
    assert GENERATE in system.capabilities
    image, calls, nfe = generate_counting(system)
    assert image.size == (16, 16) and (calls, nfe) == (3, 6)
    again, _, _ = generate_counting(system)
    other, _, _ = generate_counting(system, seed=1)
    assert np.array_equal(np.asarray(image), np.asarray(again))
    assert not np.array_equal(np.asarray(image), np.asarray(other))


def test_few_step_and_scheduler_swap(tiny):
    few = loaded("few-step", path=tiny["pipe"], steps=3, few_steps=2)
    _, calls, nfe = generate_counting(few)
    assert (calls, nfe) == (2, 4) and few.describe()["scheduler_class"] == "DDIMScheduler"
    swap = loaded(
        "scheduler", path=tiny["pipe"], few_steps=2, scheduler_config={"use_karras_sigmas": True}
    )
    assert type(swap.pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert swap.pipe.scheduler.config.use_karras_sigmas is True
    _, calls, nfe = generate_counting(swap)
    assert (calls, nfe) == (2, 4)


def test_lora_is_fused_and_guidance_is_off(tiny):
    base = loaded("baseline", path=tiny["pipe"])
    lora = loaded("lora", path=tiny["pipe"], lora_path=tiny["lora"], lora_steps=2)
    q_base = base.pipe.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_q.weight
    q_lora = lora.pipe.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_q
    assert isinstance(q_lora, torch.nn.Linear)  # fused: no adapter layer left
    assert not torch.allclose(q_base, q_lora.weight)
    _, calls, nfe = generate_counting(lora)
    assert (calls, nfe) == (2, 2)  # lora_guidance 1.0: no unconditional branch
    # a single .safetensors file works too
    single = loaded(
        "lora", path=tiny["pipe"], lora_path=f"{tiny['lora']}/pytorch_lora_weights.safetensors"
    )
    assert torch.allclose(
        single.pipe.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_q.weight,
        q_lora.weight,
    )


def test_distilled_student_replaces_the_denoiser(tiny):
    system = loaded("distilled", path=tiny["pipe"], student_path=tiny["student"], student_steps=2)
    saved = load_file(f"{tiny['student']}/diffusion_pytorch_model.safetensors")
    state = system.pipe.unet.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved.items())
    _, calls, nfe = generate_counting(system)
    assert (calls, nfe) == (2, 2)  # student_guidance 0: guidance off
    desc = system.describe()
    assert (
        desc["student_path"] == tiny["student"] and desc["guidance"] == 0.0 and desc["steps"] == 2
    )


def test_lead_profiler_counts_the_same_nfe(tiny):
    from hbench.harness.profiler import profile_sample

    system = loaded("baseline", path=tiny["pipe"], steps=2)
    with profile_sample(system.profiled_modules()) as prof:
        system.generate("a photo of a blue square", 3)
    assert (prof.to_dict()["nfe"], prof.to_dict()["merged_calls"]) == (4, 2)


def test_errors_before_weights_load(tiny, tmp_path):
    with pytest.raises(ValueError, match="needs the option path"):
        DiffusersFamily.build("baseline", DiffusersOptions())
    with pytest.raises(FileNotFoundError, match="no model_index.json"):
        DiffusersFamily.build("baseline", DiffusersOptions(path=str(tmp_path)))
    with pytest.raises(ValueError, match="needs the option lora_path"):
        DiffusersFamily.build("lora", DiffusersOptions(path=tiny["pipe"]))
    with pytest.raises(ValueError, match="needs the option student_path"):
        DiffusersFamily.build("distilled", DiffusersOptions(path=tiny["pipe"]))
    with pytest.raises(ValueError, match="must name a diffusers scheduler class"):
        DiffusersOptions(scheduler="dpm")
    with pytest.raises(ValueError, match="few_steps must be >= 1"):
        DiffusersOptions(few_steps=0)
    system = DiffusersFamily.build(
        "scheduler", DiffusersOptions(path=tiny["pipe"], scheduler="NoSuchScheduler")
    )
    with pytest.raises(RuntimeError, match="not loaded"):
        system.generate("x", 0)
    with pytest.raises(ValueError, match="no scheduler class 'NoSuchScheduler'"):
        system.load("cpu", torch.float32)
    with pytest.raises(CapabilityError):
        system.edit(None, "make it red", 0)

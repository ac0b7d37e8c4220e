"""The 1-step student's adversarial term: discriminator, hinge losses, adaptive weight, resume."""

from __future__ import annotations

import json

import pytest
import torch

from hbench.baselines.shapes.generator.weights import MANIFEST
from hbench.baselines.shapes.training.generator import distill, train
from hbench.baselines.shapes.training.generator.adversarial import (
    AdversarialTerm,
    ShapesDiscriminator,
    adaptive_weight,
    discriminator_loss,
    generator_loss,
)

TINY = ["--channels", "8,16,32", "--text-dim", "32", "--batch", "4"]


def test_discriminator_scores_each_row_and_uses_the_condition():
    torch.manual_seed(0)
    disc = ShapesDiscriminator(cond_dim=8, width=8)
    x, src = torch.randn(3, 3, 32, 32), torch.zeros(3, 3, 32, 32)
    cond = torch.randn(3, 8)
    out = disc(x, src, cond)
    assert out.shape == (3,)
    assert not torch.allclose(out, disc(x, src, -cond))  # projection term reads the text
    # rows are independent: scoring a row alone gives its batched score
    assert torch.allclose(disc.eval()(x[:1], src[:1], cond[:1]), disc(x, src, cond)[:1], atol=1e-5)


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # real: relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; fake: relu(1-2)=0, relu(1+0)=1 -> 0.5
    assert discriminator_loss(real, fake).item() == pytest.approx(0.75)
    assert generator_loss(fake).item() == pytest.approx(1.0)
    # matching-aware: negatives are half fakes (0.5) and half mismatched pairs (mean 1.0)
    wrong = torch.tensor([0.0, 0.0])
    assert discriminator_loss(real, fake, wrong).item() == pytest.approx(0.25 + 0.5 * (0.5 + 1.0))


def test_mismatched_pairs_teach_the_discriminator_to_read_the_condition():
    torch.manual_seed(0)
    term = AdversarialTerm(cond_dim=2, weight=1.0, start=0, lr=5e-3, width=8, mismatched=True)
    # two "prompts": condition e0 goes with bright images, e1 with dark ones
    img = torch.cat([torch.full((4, 3, 8, 8), 0.8), torch.full((4, 3, 8, 8), -0.8)])
    cond = torch.cat([torch.eye(2)[0].expand(4, 2), torch.eye(2)[1].expand(4, 2)])
    order = torch.tensor([0, 4, 1, 5, 2, 6, 3, 7])  # interleaved: rolling by one mismatches
    img, cond, src = img[order], cond[order], torch.zeros(8, 3, 8, 8)
    for _ in range(60):
        term.discriminator_step(img, torch.zeros_like(img), src, cond)
    with torch.no_grad():
        right, wrong = term.disc(img, src, cond), term.disc(img, src, cond.flip(1))
    assert (right > wrong).all()


def test_adaptive_weight_is_the_gradient_norm_ratio_on_the_layer():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    rec = (3.0 * w).sum()  # grad (3, 3): norm 3*sqrt(2)
    adv = (w**2).sum()  # grad (2, 4): norm sqrt(20)
    got = adaptive_weight(rec, adv, w)
    assert got.item() == pytest.approx(3 * 2**0.5 / 20**0.5)
    assert not got.requires_grad
    assert adaptive_weight(rec, 0.0 * adv, w, max_weight=7.0).item() == 7.0


def test_generator_term_is_zero_before_start_and_pushes_fakes_towards_real():
    torch.manual_seed(0)
    # 8x8 images keep the test fast: the discriminator sums its features over any grid
    term = AdversarialTerm(cond_dim=4, weight=1.0, start=1, lr=1e-2, width=8)
    real = torch.ones(8, 3, 8, 8) * 0.6
    src, cond = torch.zeros(8, 3, 8, 8), torch.zeros(8, 4)
    layer = torch.zeros(8, 3, 8, 8, requires_grad=True)
    for _ in range(20):
        term.discriminator_step(real, layer - 0.6, src, cond)
    fake = layer - 0.6
    rec = ((fake - 0.0) ** 2).mean()
    assert term.generator_term(rec, fake, src, cond, layer, step=0).item() == 0.0
    adv = term.generator_term(rec, fake, src, cond, layer, step=1)
    (grad,) = torch.autograd.grad(adv, layer)
    assert grad.mean() < 0  # descending the term moves fakes (at -0.6) up towards real (+0.6)
    assert not any(p.requires_grad for p in term.disc.parameters())


def test_adversarial_nfe1_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    w = tmp_path / "w"
    train.main(["--out", str(tmp_path / "t"), "--steps", "1", "--weights-dir", str(w), *TINY])
    base = ["--batch", "4", "--substeps", "1", "--weights-dir", str(w)]
    distill.main(["--stage", "nfe6", "--out", str(tmp_path / "s6"), "--steps", "2", *base])
    argv = ["--stage", "nfe1", "--steps", "3", "--adv-weight", "0.5", "--adv-start", "1",
            "--ckpt-every", "1", *base]  # fmt: skip

    def sha() -> str:
        files = json.loads((w / MANIFEST).read_text())["files"]
        return files["generator_nfe1.safetensors"]["sha256"]

    assert distill.main([*argv, "--out", str(tmp_path / "a")]) == 0
    whole = sha()
    log = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert {"d_loss", "g_adv", "adv_scale"} <= set(log[-1])

    # Kill the second run in its third step (after the step-2 checkpoint), then rerun it.
    real_update = distill.ema_update

    def dies_at_step_2(ema, model, step, decay):
        if step == 2:
            raise KeyboardInterrupt
        real_update(ema, model, step, decay)

    monkeypatch.setattr(distill, "ema_update", dies_at_step_2)
    with pytest.raises(KeyboardInterrupt):
        distill.main([*argv, "--out", str(tmp_path / "b")])
    assert json.loads((tmp_path / "b" / "disc.json").read_text())["step"] == 2
    monkeypatch.setattr(distill, "ema_update", real_update)
    assert distill.main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert sha() == whole


def test_adversarial_options_are_refused_where_they_do_not_apply(tmp_path, capsys):
    for argv in (["--stage", "nfe6", "--adv-weight", "0.1"],
                 ["--stage", "nfe1", "--adv-weight", "0.1", "--targets", "teacher"]):  # fmt: skip
        with pytest.raises(SystemExit):
            distill.parse([*argv, "--out", str(tmp_path)])
        assert "--adv-weight" in capsys.readouterr().err

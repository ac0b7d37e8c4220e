"""Training phases: parsing, carried-over settings, and one command equal to resumed segments."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from hbench.baselines.shapes.training.understanding.phases import (
    Settings,
    check_phases,
    lr_at,
    parse_phases,
    settings_at,
)

BASE = Settings(horizon=100, origin=0, lr=1e-3, warmup=10, aux_shape=0.0, aux_color=0.0,
                caption_frac=0.5, vqa_response="word")  # fmt: skip


def test_phases_change_only_what_they_name():
    text = "20:horizon=50, aux_shape=1.0 ; 40:caption_frac=0.35;60:origin=60,horizon=110,lr=5e-4"
    phases = parse_phases(text)
    assert settings_at(19, BASE, phases) == BASE
    s = settings_at(45, BASE, phases)
    assert (s.horizon, s.aux_shape, s.caption_frac, s.lr) == (50, 1.0, 0.35, 1e-3)
    assert s.lr_at(45) == lr_at(45, 50, 1e-3, 10)
    late = settings_at(60, BASE, phases)  # a restart: warm-up again from its own origin
    assert late.aux_shape == 1.0 and late.lr_at(60) == pytest.approx(5e-4 / 10)
    assert late.lr_at(60 + 30) == lr_at(30, 50, 5e-4, 10)
    check_phases(BASE, phases, 110)
    with pytest.raises(ValueError, match="phase 2 .start 60.: horizon 50 must be after"):
        check_phases(BASE, parse_phases("20:horizon=50;60:origin=60"), 110)
    with pytest.raises(ValueError, match="phase 1 starts at 200, after --steps 110"):
        check_phases(BASE, parse_phases("200:lr=1"), 110)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("x:lr=1", "START a step number"),
        ("10:lr=1;10:lr=2", "not after the previous phase"),
        ("10:speed=3", "'speed=3' is not key=value"),
        ("10:horizon=1.5", "horizon='1.5' is not a int"),
        ("5:lr=1;10:vqa_response=essay", "phase 2 .*not one of"),
    ],
)
def test_bad_phases_name_the_phase_and_key(text, match):
    with pytest.raises(ValueError, match=match):
        parse_phases(text, {"vqa_response": ("word", "reasoned")})


def test_one_command_with_phases_equals_resumed_segments(tmp_path):
    """The shipped target came from resumed segments with changed flags; --phases replays them."""
    from hbench.baselines.shapes.training.understanding.train_target import main

    common = ["--batch", "3", "--hidden", "32", "--layers", "1", "--ffn", "64", "--eval-n", "1",
              "--eval-every", "1000", "--warmup", "2", "--lr", "3e-3"]  # fmt: skip
    seg = tmp_path / "segments"
    # each segment stops at the next one's start: its --steps is only the cosine's horizon
    main(["--out", str(seg), "--steps", "3", *common])
    main(["--out", str(seg), "--steps", "5", "--aux-shape", "1", *common])
    main(["--out", str(seg), "--steps", "7", "--aux-shape", "1", "--caption-frac", "0.2", *common])
    one = tmp_path / "one"
    main(["--out", str(one), "--steps", "7", *common,
          "--phases", "0:horizon=3;3:horizon=5,aux_shape=1;5:horizon=7,caption_frac=0.2"])  # fmt: skip
    a = load_file(str(seg / "ckpt.safetensors"))
    b = load_file(str(one / "ckpt.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in b)
    plain = tmp_path / "plain"  # without the phases the run differs (the probe never trains)
    main(["--out", str(plain), "--steps", "7", *common])
    c = load_file(str(plain / "ckpt.safetensors"))
    assert not torch.equal(c["model.aux_shape.weight"], b["model.aux_shape.weight"])


def test_bad_phases_flag_is_a_usage_error(tmp_path, capsys):
    from hbench.baselines.shapes.training.understanding.train_target import main

    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x"), "--phases", "10:vqa_response=essay"])
    assert "not one of" in capsys.readouterr().err

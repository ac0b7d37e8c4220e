"""Config validation of every bagel option, and the one-line errors for missing files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hbench.baselines.bagel.checkout import CHECKOUT_FILES, WEIGHT_FILES
from hbench.baselines.bagel.family import BagelFamily
from hbench.baselines.bagel.options import VARIANTS, BagelOptions, check_options
from hbench.baselines.bagel.schedule import GEDIT, GENEVAL, NFE1, NFE6
from hbench.cli import main
from hbench.harness import plugins
from hbench.harness.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[3]


def _tree(root: Path, files: tuple[str, ...]) -> Path:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("")
    return root


@pytest.fixture()
def paths(tmp_path: Path) -> dict[str, str]:
    """A file tree with every path the family checks (empty files: nothing is loaded)."""
    ck = _tree(tmp_path / "Bagel", CHECKOUT_FILES)
    w = _tree(tmp_path / "BAGEL-7B-MoT", WEIGHT_FILES)
    head = tmp_path / "head.safetensors"
    n6, n1 = tmp_path / "nfe6.safetensors", tmp_path / "nfe1.safetensors"
    for f in (head, n6, n1):
        f.write_bytes(b"")
    return {
        "checkout": str(ck),
        "weights": str(w),
        "head": str(head),
        "nfe6": str(n6),
        "nfe1": str(n1),
    }


def _config(tmp_path: Path, options: str, suites: str = "latency: {workloads: [t2i]}") -> Path:
    opts = textwrap.indent(textwrap.dedent(options).strip(), " " * 4)
    text = f"system:\n  family: bagel\n  variants: [baseline]\n  options:\n{opts}\nsuites:\n  {suites}\n"
    path = tmp_path / "bagel.yaml"
    path.write_text(text)
    return path


def _load(path: Path):
    return load_config(path, plugins.SYSTEMS, plugins.SUITES)


def test_defaults_are_the_official_settings(tmp_path: Path) -> None:
    cfg = _load(_config(tmp_path, "checkout: a\nweights: b"))
    o: BagelOptions = cfg.system.options
    assert (o.t2i, o.edit) == (GENEVAL, GEDIT)
    assert (o.nfe6.t2i, o.nfe6.edit, o.nfe1.t2i, o.nfe1.edit) == (NFE6, NFE6, NFE1, NFE1)
    assert o.t2i_resolution == 1024 and o.t2i_crop_bbox and o.edit_use_vit
    assert (o.edit_max_size, o.edit_min_size) == (1024, 512)
    assert o.max_length_semantics and o.kernels and o.attention == "auto"
    assert o.samplers_for("nfe6") == (NFE6, NFE6) and o.samplers_for("spec") == (GENEVAL, GEDIT)


def test_every_option_parses(tmp_path: Path) -> None:
    opts = """
        checkout: ck
        weights: w
        t2i: {num_timesteps: 30, timestep_shift: 2.0, cfg_text_scale: 5.0, cfg_img_scale: 1.0,
              cfg_interval: [0.1, 0.9], cfg_renorm_type: channel, cfg_renorm_min: 0.2, timesteps: []}
        edit: {cfg_img_scale: 2.0, cfg_interval: [0.4, 1.0], cfg_renorm_type: text_channel}
        t2i_resolution: 512
        t2i_crop_bbox: false
        edit_max_size: 768
        edit_min_size: 256
        edit_use_vit: false
        max_length_semantics: false
        head: h.safetensors
        head_skip_prefix: true
        spec_k: 6
        nfe6: {weights: n6.safetensors, lora_scale: 0.5, t2i: {num_timesteps: 7, cfg_text_scale: 1.0},
               edit: {timesteps: [1.0, 0.8, 0.6, 0.4, 0.3, 0.2, 0.0], cfg_text_scale: 1.0}}
        nfe1: {weights: n1.safetensors}
        attention: reference
        autocast: float16
        kernels: false
    """
    o: BagelOptions = _load(_config(tmp_path, opts)).system.options
    assert o.t2i.cfg_interval == (0.1, 0.9) and o.t2i.cfg_renorm_type == "channel"
    assert o.edit.cfg_img_scale == 2.0 and o.spec_k == 6 and o.head_skip_prefix
    assert (
        o.nfe6.lora_scale == 0.5 and o.nfe6.edit.steps == 6 and o.nfe1.weights == "n1.safetensors"
    )
    assert (o.attention, o.autocast, o.kernels) == ("reference", "float16", False)
    assert (o.t2i_resolution, o.edit_max_size, o.edit_min_size) == (512, 768, 256)
    assert not (o.t2i_crop_bbox or o.edit_use_vit or o.max_length_semantics)


@pytest.mark.parametrize(
    "options, key, match",
    [
        ("weights: w", "system.options", "missing required key\\(s\\): checkout"),
        ("checkout: ck", "system.options", "missing required key\\(s\\): weights"),
        ("checkout: ''\nweights: w", "system.options", "checkout must name"),
        (
            "checkout: ck\nweights: w\ncheckpoint: x",
            "system.options.checkpoint",
            "Did you mean 'checkout'",
        ),
        ("checkout: ck\nweights: w\nt2i: {steps: 4}", "system.options.t2i.steps", "unknown key"),
        (
            "checkout: ck\nweights: w\nt2i: {num_timesteps: 1}",
            "system.options.t2i",
            "num_timesteps",
        ),
        ("checkout: ck\nweights: w\nt2i: {cfg_img_scale: 1.5}", "system.options", "no input image"),
        (
            "checkout: ck\nweights: w\nedit: {cfg_text_scale: 1.0, cfg_img_scale: 1.5}",
            "system.options",
            "needs cfg_text_scale > 1",
        ),
        (
            "checkout: ck\nweights: w\nedit: {cfg_renorm_type: l2}",
            "system.options.edit.cfg_renorm_type",
            "'text_channel'",
        ),
        (
            "checkout: ck\nweights: w\nedit: {cfg_interval: 0.4}",
            "system.options.edit.cfg_interval",
            "list",
        ),
        ("checkout: ck\nweights: w\nt2i_resolution: 1000", "system.options", "multiple of 16"),
        ("checkout: ck\nweights: w\nedit_min_size: 2048", "system.options", "edit_min_size"),
        ("checkout: ck\nweights: w\nspec_k: 0", "system.options", "spec_k"),
        ("checkout: ck\nweights: w\nspec_k: four", "system.options.spec_k", "integer"),
        (
            "checkout: ck\nweights: w\nkernels: yes please",
            "system.options.kernels",
            "true or false",
        ),
        ("checkout: ck\nweights: w\nattention: triton", "system.options.attention", "'flash'"),
        ("checkout: ck\nweights: w\nautocast: fp8", "system.options.autocast", "'bfloat16'"),
        (
            "checkout: ck\nweights: w\nnfe6: {weights: x, lora_scale: -1}",
            "system.options",
            "lora_scale",
        ),
        ("checkout: ck\nweights: w\nnfe1: {wieghts: x}", "system.options.nfe1.wieghts", "weights"),
        (
            "checkout: ck\nweights: w\nnfe6: {t2i: {cfg_img_scale: 2.0}}",
            "system.options",
            "nfe6.t2i",
        ),
    ],
)
def test_bad_options_name_file_line_and_key(
    tmp_path: Path, options: str, key: str, match: str
) -> None:
    path = _config(tmp_path, options)
    with pytest.raises(ConfigError, match=match) as err:
        _load(path)
    assert str(err.value).startswith(f"{path}:") and f" {key}:" in str(err.value)


def test_unknown_variant_is_a_config_error(tmp_path: Path) -> None:
    path = _config(tmp_path, "checkout: ck\nweights: w").read_text().replace("[baseline]", "[nfe8]")
    (tmp_path / "v.yaml").write_text(path)
    with pytest.raises(ConfigError, match="Did you mean: nfe6"):
        _load(tmp_path / "v.yaml")


def test_build_checks_paths_and_names_the_key(tmp_path: Path, paths: dict[str, str]) -> None:
    base = BagelOptions(checkout=paths["checkout"], weights=paths["weights"])
    for variant in ("baseline", "kernels"):
        assert BagelFamily.build(variant, base).variant == variant  # all paths present
    with pytest.raises(
        FileNotFoundError, match="system.options.checkout: BAGEL checkout .*nowhere"
    ):
        check_options(
            "baseline", BagelOptions(checkout=str(tmp_path / "nowhere"), weights=paths["weights"])
        )
    with pytest.raises(FileNotFoundError, match="system.options.weights: BAGEL weights folder"):
        check_options(
            "baseline", BagelOptions(checkout=paths["checkout"], weights=str(tmp_path / "none"))
        )
    for rel in CHECKOUT_FILES:  # every required checkout file is named when missing
        (Path(paths["checkout"]) / rel).rename(tmp_path / "moved")
        with pytest.raises(FileNotFoundError, match=f"not a BAGEL checkout \\({rel} is missing"):
            check_options("baseline", base)
        (tmp_path / "moved").rename(Path(paths["checkout"]) / rel)
    for rel in WEIGHT_FILES:
        (Path(paths["weights"]) / rel).rename(tmp_path / "moved")
        with pytest.raises(FileNotFoundError, match=f"system.options.weights: {rel} is missing"):
            check_options("baseline", base)
        (tmp_path / "moved").rename(Path(paths["weights"]) / rel)


def test_variant_files(tmp_path: Path, paths: dict[str, str]) -> None:
    from hbench.baselines.bagel.options import DistilledOptions

    base = dict(checkout=paths["checkout"], weights=paths["weights"])
    with pytest.raises(ConfigError, match="bagel:spec needs system.options.head"):
        check_options("spec", BagelOptions(**base))
    with pytest.raises(FileNotFoundError, match="system.options.head: draft head"):
        check_options("spec", BagelOptions(**base, head=str(tmp_path / "no.safetensors")))
    check_options("spec", BagelOptions(**base, head=paths["head"]))
    for v in ("nfe6", "nfe1"):
        with pytest.raises(ConfigError, match=f"system.options.{v}.weights"):
            check_options(v, BagelOptions(**base))
        missing = {v: DistilledOptions(weights=str(tmp_path / "x.safetensors"))}
        with pytest.raises(FileNotFoundError, match=f"system.options.{v}.weights: distilled"):
            check_options(v, BagelOptions(**base, **missing))
        check_options(v, BagelOptions(**base, **{v: DistilledOptions(weights=paths[v])}))
    with pytest.raises(ConfigError, match="Unknown bagel variant"):
        check_options("turbo", BagelOptions(**base))
    assert set(VARIANTS) == {"baseline", "kernels", "spec", "nfe6", "nfe1"}


def test_build_imports_no_bagel_code(paths: dict[str, str]) -> None:
    import sys

    BagelFamily.build(
        "baseline", BagelOptions(checkout=paths["checkout"], weights=paths["weights"])
    )
    assert "modeling" not in sys.modules or "Bagel" in str(
        getattr(sys.modules["modeling"], "__file__", "")
    )


def test_cli_missing_checkout_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _config(tmp_path, f"checkout: {tmp_path / 'Bagel'}\nweights: {tmp_path / 'w'}")
    rc = main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "system.options.checkout" in lines[0] and str(tmp_path / "Bagel") in lines[0]
    assert not (tmp_path / "run").exists()


def test_shipped_geneval_config_fails_on_the_missing_checkout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    if not (REPO.parent / "shared/data/geneval/evaluation_metadata.jsonl").is_file():
        pytest.skip("the official GenEval metadata (../shared/data/geneval) is not beside the repo")
    monkeypatch.chdir(REPO)
    if Path("external/Bagel").exists():
        pytest.skip("a checkout exists at external/Bagel")
    rc = main(["run", "configs/bagel/geneval.yaml", "--out", str(tmp_path / "run"), "--quiet"])
    _, err = capsys.readouterr()
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "system.options.checkout: BAGEL checkout 'external/Bagel' not found" in err


@pytest.mark.parametrize("name", ["geneval", "gedit", "understanding", "latency"])
def test_shipped_configs_validate(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    cfg = load_config(REPO / "configs/bagel" / f"{name}.yaml", plugins.SYSTEMS, plugins.SUITES)
    assert cfg.system.family == "bagel" and cfg.device == "cuda"
    o: BagelOptions = cfg.system.options
    assert (o.t2i, o.edit) == (GENEVAL, GEDIT)  # the configs spell out the official values

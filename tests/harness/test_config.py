"""Config validation: every error names the file, the line and the key."""

from __future__ import annotations

import pytest

from hbench.harness import plugins
from hbench.harness.config import ConfigError, load_config

GOOD = """\
seed: 3
system:
  family: shapes
  variants: [oracle]
  reference: oracle
suites:
  shapes-count: {samples: 4}
"""


def _load(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(path, plugins.SYSTEMS, plugins.SUITES), path


def test_good_config_resolves_defaults(tmp_path, count_suite):
    cfg, _ = _load(tmp_path, GOOD)
    assert cfg.seed == 3 and cfg.device == "cpu" and cfg.dtype == "float32"
    assert cfg.system.variants == ("oracle",) and cfg.system.reference == "oracle"
    (suite,) = cfg.suites
    assert suite.params.samples == 4 and suite.variants == ("oracle",)
    assert cfg.to_dict()["suites"]["shapes-count"]["samples"] == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("seed: 3", "sede: 3"), ":1: sede: unknown key. Did you mean 'seed'?"),
        (GOOD.replace("system:", "sytem:"), ":2: sytem: unknown key. Did you mean 'system'?"),
        (
            GOOD.replace("  family:", "  famly:"),
            ":3: system.famly: unknown key. Did you mean 'family'? Allowed: bounds, family, options,",
        ),
        (
            GOOD.replace("family: shapes", "family: shapez"),
            ":3: system.family: Unknown system family 'shapez'. Did you mean: shapes?",
        ),
        (GOOD.replace("[oracle]", "[oracel]"), "system.variants.oracel"),
        (
            GOOD.replace("{samples: 4}", "{samples: four}"),
            ":7: suites.shapes-count.samples: expected an integer, got 'four'",
        ),
        (
            GOOD.replace("{samples: 4}", "{sample: 4}"),
            "suites.shapes-count.sample: unknown key. Did you mean 'samples'?",
        ),
        (GOOD.replace("shapes-count:", "gen_eval:"), "suites.gen_eval: Unknown suite 'gen_eval'"),
        (GOOD.replace("seed: 3", "seed: [3"), "not valid YAML"),
        (
            GOOD.replace("reference: oracle", "reference: baseline"),
            "system.reference: reference variant 'baseline' is not among",
        ),
        (GOOD + "device: tpu\n", "device: expected cpu, cuda or cuda:N"),
        ("system: {family: shapes}\n", "missing required key 'suites'"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, count_suite, text, expected):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    msg = str(err.value)
    assert str(tmp_path / "c.yaml") in msg
    assert expected in msg
    assert "\n" not in msg


def test_family_option_validated(tmp_path, count_suite):
    text = GOOD.replace("reference: oracle", "reference: oracle\n  options: {spec_k: 0}")
    with pytest.raises(ConfigError, match=r"system.options: spec_k must be in 1..16"):
        _load(tmp_path, text)


def test_per_variant_options_override_and_validate(tmp_path, count_suite):
    text = GOOD.replace("  variants: [oracle]", "  variants:\n    oracle: {spec_k: 6}").replace(
        "reference: oracle", "reference: oracle\n  options: {spec_k: 3}"
    )
    cfg, _ = _load(tmp_path, text)
    assert cfg.system.options.spec_k == 3
    assert cfg.system.options_for("oracle").spec_k == 6
    with pytest.raises(ConfigError, match=r"system.variants.oracle: spec_k must be in 1..16"):
        _load(tmp_path, text.replace("spec_k: 6", "spec_k: 99"))

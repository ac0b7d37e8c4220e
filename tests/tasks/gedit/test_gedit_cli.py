"""``hbench gedit`` subcommands: export a run, official statistics, score an official folder."""

from gedit_data_helpers import LocalChatServer, gedit_rows
from PIL import Image

from hbench.harness.config_specs import SuiteSpec
from hbench.harness.sample_run import run_item
from hbench.harness.store import RunStore
from hbench.harness.system import EDIT
from hbench.tasks.gedit.cli import main
from hbench.tasks.gedit.shapes_source import edit_from_dict
from hbench.tasks.gedit.suite import GEditConfig, GEditSuite
from hbench.worlds.shapes import render


class _Unchanged:
    family, variant, capabilities = "test", "unchanged", frozenset({EDIT})

    def edit(self, image, instruction, seed):
        return image.copy()

    def profiled_modules(self):
        return {}


def test_export_then_stats(tmp_path, capsys):
    suite = GEditSuite(GEditConfig(samples_per_type=2, metrics=False))
    store = RunStore(tmp_path / "run")
    spec = SuiteSpec("gedit", suite.config, ("unchanged",))
    for item in suite.items(0):
        store.append(run_item(suite, spec, _Unchanged(), "unchanged", item, store, "cpu"))
    store.close()
    assert main(["export", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "== unchanged: 12 judged samples" in out and "Average: 0.000, 10.000, 0.000" in out
    csv_dir = tmp_path / "run" / "artifacts" / "gedit" / "unchanged" / "gedit_csv"
    assert (csv_dir / "unchanged_color_alter_gpt_score.csv").is_file()
    assert main(["stats", str(csv_dir), "--model", "unchanged", "--groups", "shapes"]) == 0
    assert "subject-add: 0.000, 10.000, 0.000" in capsys.readouterr().out


def test_score_an_official_generation_folder(tmp_path, gedit_parquet, monkeypatch, capsys):
    model = tmp_path / "results" / "mymodel"
    rows = gedit_rows()
    for r in rows[:3]:  # the other three have no images: skipped, as the official script does
        d = model / "fullset" / r["task_type"] / r["instruction_language"]
        d.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (24, 16), (1, 2, 3)).save(d / f"{r['key']}_SRCIMG.png")
        Image.new("RGB", (48, 32), (3, 2, 1)).save(d / f"{r['key']}.png")
    script = [(200, '{"score": [8, 6]}'), (200, '{"score": [9, 4]}')] * 3
    monkeypatch.setenv("HB_TEST_KEY", "sk-local")
    out_dir = tmp_path / "eval"
    with LocalChatServer(script) as srv:
        code = main(["score", str(model), "--dataset", str(gedit_parquet), "--judge", "openai",
                     "--judge-option", f"base_url={srv.url}", "--judge-option", "api_key_env=HB_TEST_KEY",
                     "-o", str(out_dir)])  # fmt: skip
    assert code == 0 and len(srv.requests) == 6
    text = capsys.readouterr().out
    assert "judged 3, judge errors 0, missing images 3" in text
    assert "color_alter: 6.000, 4.000, 4.899" in text  # SC min(8,6), PQ min(9,4), O sqrt(24)
    csv_text = (out_dir / "mymodel_color_alter_gpt_score.csv").read_text()
    assert csv_text.count("\n") == 3  # header + the en and cn color_alter rows


def test_oracle_export_is_ten(tmp_path, capsys):
    suite = GEditSuite(GEditConfig(samples_per_type=1, metrics=False))
    items = suite.items(0)
    table = {
        it.data["instruction"]: render(edit_from_dict(it.data["edit"]).expected) for it in items
    }

    class Oracle(_Unchanged):
        variant = "oracle"

        def edit(self, image, instruction, seed):
            return Image.fromarray(table[instruction])

    store = RunStore(tmp_path / "run")
    spec = SuiteSpec("gedit", suite.config, ("oracle",))
    for item in items:
        store.append(run_item(suite, spec, Oracle(), "oracle", item, store, "cpu"))
    store.close()
    assert main(["export", str(tmp_path / "run")]) == 0
    assert "Average: 10.000, 10.000, 10.000" in capsys.readouterr().out

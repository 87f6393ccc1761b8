"""The inspection verbs as a user runs them."""

from __future__ import annotations

import json
import signal

import pytest

import zoo
from plugin_packages import run_zoo
from zoo.errors import ZooError


def test_help_and_version():
    assert run_zoo("--help").returncode == 0
    assert run_zoo("--version").stdout.decode().startswith("zoo ")


def test_list_table_and_json():
    table = run_zoo("list")
    assert table.returncode == 0
    assert "lstm" in table.stdout.decode() and "rnn-zoo 0.1.0" in table.stdout.decode()
    rows = json.loads(run_zoo("list", "--json", "--kind", "encoder").stdout)
    # built-ins first; installed third-party plugins (e.g. examples/zoo-extras in CI) come after
    assert [r["name"] for r in rows if r["distribution"] == "rnn-zoo"] == ["rnn", "gru", "lstm"]
    assert [r["name"] for r in rows][:3] == ["rnn", "gru", "lstm"]


def test_show_fields_with_types_defaults_and_constraints():
    shown = json.loads(run_zoo("show", "lstm", "--json").stdout)
    fields = {f["field"]: f for f in shown["fields"]}
    assert fields["hidden_size"]["default"] == 64
    assert fields["hidden_size"]["constraints"] == {"exclusiveMinimum": 0, "maximum": 65536}
    assert fields["pooling"]["type"] == '"last" | "mean" | "max"'
    assert run_zoo("show", "encoder/gru").returncode == 0


def test_show_unknown_component():
    result = run_zoo("show", "lsmt")
    assert result.returncode == 2
    assert "no component named 'lsmt'" in result.stderr.decode()
    assert "Did you mean 'lstm'?" in result.stderr.decode()


def test_schema_is_json_schema():
    schema = json.loads(run_zoo("schema").stdout)
    assert schema["title"] == "Spec" and "model" in schema["properties"]


def test_recipes_and_plugins():
    recipes = {r["name"]: r for r in json.loads(run_zoo("recipes", "--json").stdout)}
    assert recipes["imdb-lstm"]["result"]["test_accuracy"] > 0.855
    variant, = recipes["imdb-rnn"]["variants"]
    assert "data.max_length=null" in variant["overrides"]
    assert variant["result"]["test_accuracy"] < recipes["imdb-rnn"]["result"]["test_accuracy"]
    table = run_zoo("recipes", env={"COLUMNS": "250"}).stdout.decode()
    assert "↳ " + variant["label"] in table
    plugins = json.loads(run_zoo("plugins", "--all", "--json").stdout)
    builtin = {p["name"]: p for p in plugins}
    assert builtin["builtin-encoders"]["components"] == ["encoder/rnn", "encoder/gru", "encoder/lstm"]
    assert builtin["builtin-metrics-log"]["hooks"] == ["on_epoch_end", "on_run_start"]
    shown = json.loads(run_zoo("plugins", "--json").stdout)
    assert [p for p in shown if p["builtin"]] == []  # built-ins hidden by default


def test_data_prepares_the_dataset_of_a_spec_or_the_one_named(tmp_path):
    from plugin_packages import LINES_PLUGIN, make_distribution, write_lines_data
    from zoo.testing import write_imdb_folder

    site = make_distribution(tmp_path / "site", "zoo-lines", "1.0", {"zoo_lines": LINES_PLUGIN}, {"lines": "zoo_lines"})
    lines = write_lines_data(tmp_path / "lines", per_label=5)
    env = {"ZOO_CACHE_DIR": str(tmp_path / "cache")}
    spec = tmp_path / "lines.yaml"
    spec.write_text(f"data:\n  dataset: lines\n  source: {lines}\n")

    def data(*args: str) -> dict:
        result = run_zoo("data", *args, "--json", site=site, env=env)
        assert result.returncode == 0, result.stderr.decode()
        return json.loads(result.stdout)

    from_spec = data("--spec", str(spec))  # the spec's dataset, not the default recipe's imdb
    assert (from_spec["dataset"], from_spec["counts"]["test"]) == ("lines", {"neg": 5, "pos": 5})
    named = data("lines", "--source", str(lines))  # the default recipe's imdb fields do not follow
    assert named["counts"] == from_spec["counts"]

    imdb = write_imdb_folder(tmp_path / "imdb", per_label=6)
    spec.write_text("data:\n  dataset: {type: imdb, valid_size: 4}\n  limit: 8\n")
    kept = data("imdb", "--spec", str(spec), "--source", str(imdb), "--set", "data.seed=2")
    assert (kept["counts"]["valid"], kept["limit"], kept["seed"]) == ({"neg": 2, "pos": 2}, 8, 2)
    wrong = run_zoo("data", "--spec", str(spec), "--set", "data.dataset.splt=x", site=site, env=env)
    assert wrong.returncode == 2
    assert "did you mean 'split'?" in wrong.stderr.decode() and "(from --set data.dataset.splt=x)" in wrong.stderr.decode()


def test_tables_outside_a_terminal_keep_each_row_readable_and_follow_columns():
    from rich.cells import cell_len

    description = "Bidirectional LSTM with max pooling, dropout, AdamW and a cosine schedule."
    for columns in ("", "0", "abc"):  # unset or meaningless: the wide default for logs
        lines = run_zoo("recipes", env={"COLUMNS": columns}).stdout.decode().splitlines()
        [row] = [line for line in lines if "imdb-best" in line]
        assert description in row and "89.48%" in row
        assert "--set data.max_length=null --set train.clip_grad_norm=null --set train.epochs=5" in "".join(lines)

    lines = run_zoo("recipes", env={"COLUMNS": "100"}).stdout.decode().splitlines()
    assert max(cell_len(line) for line in lines) <= 100 and lines[1].startswith("┏")

    narrow = run_zoo("recipes", env={"COLUMNS": "20"})  # too narrow for the columns: one block per row
    assert narrow.returncode == 0
    lines = narrow.stdout.decode().splitlines()
    assert "name: imdb-best" in lines and f"description: {description}" in lines
    listed = run_zoo("list", env={"COLUMNS": "20"}).stdout.decode().splitlines()
    assert "name: lstm" in listed and "kind: encoder" in listed


def test_predict_takes_its_texts_after_its_options_too(tiny_run):
    """``zoo predict RUN --top-k 1 TEXT`` was "unrecognized arguments: TEXT"."""
    result = run_zoo("predict", str(tiny_run), "ta zapfy", "--top-k", "1", "lo mudge", "--json", "zapfy")
    assert result.returncode == 0, result.stderr.decode()
    answers = json.loads(result.stdout)
    assert [answer["text"] for answer in answers] == ["ta zapfy", "lo mudge", "zapfy"]
    assert all(len(answer["probabilities"]) == 1 for answer in answers)
    dashed = run_zoo("predict", str(tiny_run), "--json", "--", "-1 zapfy", "ta")  # after --, texts
    assert dashed.returncode == 0, dashed.stderr.decode()
    assert [answer["text"] for answer in json.loads(dashed.stdout)] == ["-1 zapfy", "ta"]
    wrong = run_zoo("predict", str(tiny_run), "ta zapfy", "--top-q", "1")
    assert wrong.returncode == 2 and "unrecognized arguments: --top-q 1" in wrong.stderr.decode()
    assert run_zoo("list", "extra").returncode == 2  # other verbs take no extra words


def test_predict_from_python_refuses_one_string_instead_of_labelling_its_characters(tiny_run):
    """``zoo.load(RUN).predict("a review")`` returned one answer per character."""
    classifier = zoo.load(tiny_run)
    with pytest.raises(ZooError, match=r"texts must be a list of strings, not one str; for a single text, pass \[text\]"):
        classifier.predict("ta zapfy")
    assert len(classifier.predict(["ta zapfy"])) == 1


def test_main_in_process_gives_the_callers_sigterm_handler_back():
    """zoo.cli.main turns SIGTERM into an exception while it runs; a program (or a test run)
    that calls it keeps its own handler afterwards."""
    def mine(signum, frame):
        return None

    from zoo.cli import main

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        assert main(["recipes", "--json"]) == 0
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)

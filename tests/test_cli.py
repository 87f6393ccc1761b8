"""The inspection verbs as a user runs them."""

from __future__ import annotations

import json

from plugin_packages import run_zoo


def test_help_and_version():
    assert run_zoo("--help").returncode == 0
    assert run_zoo("--version").stdout.decode().startswith("zoo ")


def test_list_table_and_json():
    table = run_zoo("list")
    assert table.returncode == 0
    assert "lstm" in table.stdout.decode() and "zoo 0.1.0" in table.stdout.decode()
    rows = json.loads(run_zoo("list", "--json", "--kind", "encoder").stdout)
    # built-ins first; installed third-party plugins (e.g. examples/zoo-extras in CI) come after
    assert [r["name"] for r in rows if r["distribution"] == "zoo"] == ["rnn", "gru", "lstm"]
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

"""Specs: formats, overrides, round trips, and every mistake a user can make in one."""

from __future__ import annotations

import json

import pytest
import yaml

from plugin_packages import run_zoo
from zoo.errors import SpecError
from zoo.rundir import dump_spec
from zoo.spec import apply_overrides, list_recipes, load_spec, recorded_results, spec_schema


def problems(source, overrides=None) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as info:
        load_spec(source, overrides)
    return info.value.problems


def test_every_shipped_recipe_validates():
    assert "imdb-lstm" in list_recipes()
    for name in list_recipes():
        assert load_spec(name).name == name


def test_every_recorded_result_belongs_to_a_recipe_and_its_overrides_apply():
    results = recorded_results()
    assert set(list_recipes()) <= set(results)  # every shipped recipe has been trained
    for label, result in results.items():
        assert result["recipe"] in list_recipes(), label
        assert (label == result["recipe"]) == (not result["overrides"]), label
        load_spec(result["recipe"], result["overrides"])


def test_spec_round_trip_is_identical(tmp_path):
    spec = load_spec("imdb-lstm", ["model.encoder.bidirectional=true", "train.clip_grad_norm=1.5"])
    dumped = dump_spec(spec)
    for suffix, write in [(".yaml", yaml.safe_dump), (".json", json.dumps)]:
        path = tmp_path / f"again{suffix}"
        path.write_text(write(dumped))
        assert load_spec(path) == spec
    assert load_spec(dumped) == spec
    assert load_spec(spec) == spec


def test_toml_spec(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('name = "t"\n[model.encoder]\ntype = "gru"\nhidden_size = 8\n[train]\nepochs = 2\n')
    spec = load_spec(path)
    assert (spec.model.encoder.type, spec.model.encoder.hidden_size, spec.train.epochs) == ("gru", 8, 2)


def test_overrides_use_dotted_paths_and_yaml_scalars():
    spec = load_spec("imdb-lstm", ["model.encoder.type=gru", "train.epochs=3", "train.optimizer.lr=5e-4",
                                   "model.head.hidden_sizes=[32, 16]", "data.limit=200"])
    assert spec.model.encoder.type == "gru" and spec.model.encoder.hidden_size == 64
    assert spec.train.epochs == 3 and spec.train.optimizer.lr == 5e-4
    assert spec.model.head.hidden_sizes == [32, 16] and spec.data.limit == 200


def test_a_component_may_be_given_by_bare_name():
    spec = load_spec({"model": {"encoder": "gru", "head": "linear"}, "tokenizer": "whitespace"})
    assert spec.model.encoder.type == "gru" and spec.model.encoder.hidden_size == 64
    assert apply_overrides({"model": {"encoder": "gru"}}, ["model.encoder.hidden_size=8"]) == {
        "model": {"encoder": {"type": "gru", "hidden_size": 8}}
    }


def test_unknown_component_names_kind_names_and_nearest_match():
    [(path, message)] = problems({"model": {"encoder": {"type": "lsmt"}}})
    assert path == "model.encoder"
    from zoo.plugins import get_registry

    # every installed encoder is listed: zoo's, and any third party's (examples/zoo-extras in CI)
    names = ", ".join(sorted(get_registry().names("encoder")))
    assert {"gru", "lstm", "rnn"} <= set(get_registry().names("encoder"))
    assert message == f"unknown encoder 'lsmt'; registered encoders: {names}. Did you mean 'lstm'?"


def test_misspelt_field_gets_its_path_and_the_valid_fields():
    [(path, message)] = problems({"model": {"encoder": {"type": "lstm", "hiden_size": 3}}})
    assert path == "model.encoder.hiden_size"
    assert message.startswith("unknown field; did you mean 'hidden_size'? Valid fields: hidden_size, num_layers")
    [(path, message)] = problems({"train": {"optimizer": {"name": "adam", "xyzzy": 1}}})
    assert (path, message) == ("train.optimizer.xyzzy",
                               "unknown field; valid fields: name, lr, weight_decay, momentum, betas")


def test_every_problem_is_reported_at_once():
    found = problems({"model": {"encoder": {"type": "lstm", "hidden_size": -3}}, "train": {"epochs": "many"}})
    assert found == [
        ("model.encoder.hidden_size", "Input should be greater than 0 (got -3)"),
        ("train.epochs", "Input should be a valid integer, unable to parse string as an integer (got 'many')"),
    ]


@pytest.mark.parametrize("text, expected", [
    ("", "is empty"),
    ("model: [1, 2\n", "malformed YAML"),
    ("- a\n- b\n", "a spec must be a mapping of sections, not list"),
    ("model: !!python/object/apply:os.system ['touch pwned']\n", "malformed YAML"),
])
def test_malformed_files(tmp_path, text, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    [(_, message)] = problems(path)
    assert expected in message
    assert not (tmp_path / "pwned").exists()


def test_binary_garbage_and_unknown_suffix(tmp_path):
    garbage = tmp_path / "spec.yaml"
    garbage.write_bytes(b"\xff\xfe\x00garbage\x81")
    assert "not UTF-8" in problems(garbage)[0][1]
    other = tmp_path / "spec.ini"
    other.write_text("[x]")
    assert "unknown spec format '.ini'" in problems(other)[0][1]


def test_missing_file_suggests_recipes():
    [(_, message)] = problems("imdb-lstn")
    assert "no spec file 'imdb-lstn' and no recipe of that name" in message
    assert "Did you mean recipe 'imdb-lstm'?" in message


def test_bad_override():
    assert "must look like section.field=value" in problems("imdb-lstm", ["train.epochs"])[0][1]
    assert problems("imdb-lstm", ["train.epochs.x=1"])[0][0] == "train.epochs"


def test_schema_holds_every_registered_component():
    schema = spec_schema()
    text = json.dumps(schema)
    for name in ("LstmEncoderSpec", "GruEncoderSpec", "RnnEncoderSpec", "MlpHeadSpec", "LinearHeadSpec",
                 "WordsTokenizerSpec", "WhitespaceTokenizerSpec"):
        assert name in schema["$defs"]
    assert '"discriminator"' in text


# --- the same mistakes through the CLI: one message, exit status 2, no traceback ---------------


@pytest.mark.parametrize("content, expected", [
    ("model:\n  encoder: {type: lsmt}\n", "model.encoder: unknown encoder 'lsmt'"),
    ("model:\n  encoder: {type: lstm, hiden_size: 3}\n", "model.encoder.hiden_size: unknown field"),
    ("train:\n  epochs: -1\n", "train.epochs: Input should be greater than 0"),
    ("train:\n  cpu_shards: many\n", "train.cpu_shards: must be 'auto' or a number of shards from 1 to 1024 (got 'many')"),
    ("train:\n  cpu_shards: 0\n", "train.cpu_shards: must be 'auto' or a number of shards from 1 to 1024 (got 0)"),
    ("train: {epochs: [\n", "malformed YAML"),
])
def test_cli_validate_errors(tmp_path, content, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(content)
    result = run_zoo("validate", str(path))
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert expected in stderr and "Traceback" not in stderr


def test_cli_validate_missing_file_and_override(tmp_path):
    result = run_zoo("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "no spec file" in result.stderr.decode()
    result = run_zoo("validate", "imdb-lstm", "--set", "model.encoder.type=lsmt")
    assert result.returncode == 2 and "Did you mean 'lstm'?" in result.stderr.decode()
    ok = run_zoo("validate", "imdb-lstm", "--set", "model.encoder.type=gru")
    assert ok.returncode == 0 and "encoder gru" in ok.stdout.decode()


@pytest.mark.parametrize("raw, value", [
    ("010", 10), ("-5", -5), ("1e3", 1000.0), ("+.5", 0.5), ("true", True), ("False", False), ("null", None),
    ("yes", "yes"), ("on", "on"), ("1:30", "1:30"), ("0x10", "0x10"), ("2024-01-01", "2024-01-01"),
    ("/data/imdb #1/aclImdb", "/data/imdb #1/aclImdb"), ("'010'", "010"), ("[16, 032]", [16, 32]),
    ("{type: gru, hidden_size: 010}", {"type": "gru", "hidden_size": 10}),
])
def test_override_values_follow_the_yaml_1_2_core_schema(raw, value):
    from zoo.spec import parse_override_value

    assert parse_override_value(raw) == value and type(parse_override_value(raw)) is type(value)


def test_overrides_keep_seeds_sizes_and_paths_as_written():
    spec = load_spec("imdb-lstm", ["train.seed=010", "data.source=/data/imdb #1/aclImdb",
                                   "name=2024", "description=true"])
    assert spec.train.seed == 10 and spec.data.source == "/data/imdb #1/aclImdb"
    assert spec.name == "2024" and spec.description == "true"  # a string field takes the text as written
    [(path, message)] = problems("imdb-lstm", ["data.limit=1:30"])
    assert path == "data.limit" and "(got '1:30') (from --set data.limit=1:30)" in message  # not 90


def test_a_nested_override_on_a_default_component_fills_its_type():
    spec = load_spec({"name": "t"}, ["model.encoder.hidden_size=8", "data.dataset.valid_size=10",
                                     "tokenizer.emoticons=false"])
    assert (spec.model.encoder.type, spec.model.encoder.hidden_size) == ("lstm", 8)
    assert (spec.data.dataset.type, spec.data.dataset.valid_size) == ("imdb", 10)
    assert spec.tokenizer.emoticons is False


def test_changing_a_components_type_drops_the_old_components_fields():
    spec = load_spec("imdb-lstm", ["model.encoder.type=rnn"])
    assert spec.model.encoder.type == "rnn" and spec.model.encoder.hidden_size == 64  # rnn's default
    spec = load_spec("imdb-lstm", ["model.encoder.hidden_size=8", "model.encoder.type=gru",
                                   "model.encoder.num_layers=2"])
    assert (spec.model.encoder.type, spec.model.encoder.hidden_size, spec.model.encoder.num_layers) == ("gru", 8, 2)
    spec = load_spec("imdb-lstm", ["model.head=linear"])
    assert spec.model.head.type == "linear"
    same = load_spec({"model": {"encoder": {"type": "gru", "hidden_size": 8}}}, ["model.encoder.type=gru"])
    assert same.model.encoder.hidden_size == 8  # the same type keeps its fields


def test_an_error_caused_by_an_override_names_the_override_not_the_recipe():
    with pytest.raises(SpecError) as info:
        load_spec("imdb-lstm", ["model.encoder.type=lsmt"])
    message = str(info.value)
    assert message.startswith("invalid spec in the --set overrides of ")
    assert "model.encoder: unknown encoder 'lsmt'" in message and "(from --set model.encoder.type=lsmt)" in message


def test_overrides_never_expand_or_change_the_data_they_are_given():
    shared = {"hidden_size": 8}
    data = {"model": {"encoder": {"type": "gru", **shared}}, "a": shared, "b": shared}
    out = apply_overrides(data, ["a.hidden_size=9"])
    assert out["b"] is shared and shared == {"hidden_size": 8} and out["a"] == {"hidden_size": 9}


def test_zoo_data_passes_the_source_through_untouched(tmp_path, imdb_files, data_cache):
    folder = tmp_path / "imdb #1"
    imdb_files.folder(folder, n=6)
    result = run_zoo("data", "--source", str(folder / "aclImdb"), "--set", "data.dataset.valid_size=4", "--json",
                     env={"ZOO_CACHE_DIR": str(data_cache)})
    assert result.returncode == 0, result.stderr.decode()
    assert "imdb #1" in json.loads(result.stdout)["source"]

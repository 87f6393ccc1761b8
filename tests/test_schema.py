"""``zoo schema`` against an independent validator: it accepts what zoo accepts and refuses what
zoo refuses, so that an editor using it marks neither a correct spec nor a wrong one falsely.

Cross-field rules (a model validator such as "dropout needs num_layers > 1", a logger listed
twice) cannot be said in JSON Schema; those are zoo's alone and are not among the cases here.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from plugin_packages import run_zoo
from zoo.errors import SpecError
from zoo.plugins import get_registry
from zoo.registry import KINDS
from zoo.spec import list_recipes, read_spec_file, validate_spec

WHERE = {"tokenizer": ("tokenizer",), "dataset": ("data", "dataset"), "encoder": ("model", "encoder"),
         "head": ("model", "head"), "logger": ("loggers",)}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """The schema exactly as ``zoo schema`` prints it, for the plugins installed here."""
    schema = json.loads(run_zoo("schema").stdout)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def nested(path: tuple[str, ...], value) -> dict:
    for key in reversed(path):
        value = {key: value}
    return value


def zoo_accepts(data: dict) -> bool:
    try:
        validate_spec(data)
    except SpecError:
        return False
    return True


def bare_names() -> list[tuple[str, dict]]:
    """Every registered component written as its bare name, as the README teaches (valid where
    its defaults are: a component with a required field, such as the table dataset's files, is not)."""
    registry = get_registry()
    return [(f"{kind}: {name}", nested(WHERE[kind], name)) for kind in KINDS for name in registry.names(kind)]


ACCEPTED = [
    ("empty spec", {}),
    ("full component form", {"model": {"encoder": {"type": "lstm", "hidden_size": 8}, "head": {"type": "mlp"}}}),
    ("one logger as a string", {"loggers": "tensorboard"}),
    ("a list of loggers", {"loggers": ["tensorboard"]}),
    ("one logger as a mapping", {"loggers": {"type": "tensorboard"}}),
    ("cpu_shards auto", {"train": {"cpu_shards": "auto"}}),
    ("cpu_shards number", {"train": {"cpu_shards": 4}}),
    ("nulls", {"train": {"scheduler": None, "clip_grad_norm": None}, "data": {"max_length": None}}),
    ("schedules", {"train": {"scheduler": {"name": "cosine"}, "early_stopping": {"patience": 2}}}),
    ("the task by name, as the README writes it", {"task": "multilabel"}),
    ("the task as a mapping", {"task": {"type": "multiclass", "class_weights": "balanced"}}),
]

REFUSED = [
    ("unknown bare name", {"model": {"encoder": "lsmt"}}),
    ("unknown component type", {"model": {"head": {"type": "mpl"}}}),
    ("unknown component field", {"model": {"encoder": {"type": "lstm", "hidden": 3}}}),
    ("component without type", {"model": {"encoder": {"hidden_size": 8}}}),
    ("only component of its kind without type", {"data": {"dataset": {"valid_size": 10}}}),
    ("component of the wrong JSON type", {"tokenizer": 3}),
    ("unknown section", {"optimiser": {"lr": 0.1}}),
    ("unknown field", {"train": {"epoch": 3}}),
    ("zero batch size", {"train": {"batch_size": 0}}),
    ("negative epochs", {"train": {"epochs": -1}}),
    ("unknown optimizer", {"train": {"optimizer": {"name": "adagrad"}}}),
    ("unknown logger", {"loggers": ["tensorbord"]}),
    ("unknown logger as a string", {"loggers": "tensorbord"}),
    ("cpu_shards zero", {"train": {"cpu_shards": 0}}),
    ("cpu_shards word", {"train": {"cpu_shards": "many"}}),
    ("spec that is not a mapping section", {"model": "lstm"}),
    ("unknown task name", {"task": "regression"}),
]


@pytest.mark.parametrize("name", sorted(list_recipes()))
def test_every_shipped_recipe_is_valid_for_both(validator, name):
    data = read_spec_file(list_recipes()[name])
    assert zoo_accepts(data)
    assert list(validator.iter_errors(data)) == []


@pytest.mark.parametrize(("case", "data"), bare_names(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_bare_name_is_valid_for_both_or_for_neither(validator, case, data):
    assert validator.is_valid(data) == zoo_accepts(data), case


def test_bare_names_of_components_without_required_fields_are_valid(validator):
    for kind, name in [("tokenizer", "words"), ("dataset", "imdb"), ("encoder", "gru"), ("head", "linear")]:
        assert validator.is_valid(nested(WHERE[kind], name)) and zoo_accepts(nested(WHERE[kind], name))


@pytest.mark.parametrize(("case", "data"), ACCEPTED, ids=lambda v: v if isinstance(v, str) else "")
def test_what_zoo_accepts_the_schema_accepts(validator, case, data):
    assert zoo_accepts(data), case
    assert [error.message for error in validator.iter_errors(data)] == [], case


@pytest.mark.parametrize(("case", "data"), REFUSED, ids=lambda v: v if isinstance(v, str) else "")
def test_what_zoo_refuses_the_schema_refuses(validator, case, data):
    assert not zoo_accepts(data), case
    assert list(validator.iter_errors(data)), case


def test_the_readme_shorthand_validates_through_the_cli_too(tmp_path, validator):
    spec = tmp_path / "spec.yaml"
    spec.write_text("tokenizer: whitespace\nmodel: {encoder: gru, head: linear}\n")
    assert run_zoo("validate", str(spec)).returncode == 0
    assert validator.is_valid({"tokenizer": "whitespace", "model": {"encoder": "gru", "head": "linear"}})

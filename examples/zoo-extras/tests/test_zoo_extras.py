"""zoo-extras' own tests, through zoo.testing. Run them with the package installed:

    pip install './examples/zoo-extras[test]' && python -m pytest examples/zoo-extras/tests
"""

from __future__ import annotations

import pickle

import pytest

import zoo
from zoo.plugins import get_registry
from zoo.testing import check_encoder, check_head, check_tokenizer, smoke_train


def test_the_components_come_from_this_distribution():
    registry = get_registry()
    for kind, name in [("encoder", "textcnn"), ("head", "highway"), ("tokenizer", "char-ngrams")]:
        origin = registry.get(kind, name).plugin
        assert (origin.name, origin.distribution, origin.version) == ("extras", "zoo-extras", "0.1.0")


@pytest.mark.parametrize("spec", [
    {"type": "textcnn", "channels": 6},
    {"type": "textcnn", "kernel_sizes": [1, 2, 7], "channels": 3, "activation": "tanh"},
    {"type": "textcnn", "kernel_sizes": [5], "channels": 4, "dropout": 0.5, "activation": "gelu"},
])
def test_textcnn_keeps_the_encoder_contract(spec):
    encoder = check_encoder(spec, input_size=7)
    assert encoder.output_size == spec["channels"] * len(spec.get("kernel_sizes", [3, 4, 5]))


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_highway_keeps_the_head_contract(layers):
    check_head({"type": "highway", "layers": layers}, input_size=6, num_outputs=1)
    check_head({"type": "highway", "layers": layers}, input_size=6, num_outputs=3)


def test_char_ngrams():
    tokenizer = check_tokenizer({"type": "char-ngrams", "n_min": 2, "n_max": 3})
    assert tokenizer("Ab<br />c") == ["<ab>", "<a", "ab", "b>", "<ab", "ab>", "<c>", "<c", "c>"]
    plain = get_registry().build("tokenizer", {"type": "char-ngrams", "n_min": 3, "n_max": 3,
                                               "boundaries": False, "words": False})
    assert plain("Film a") == ["fil", "ilm", "a"]
    assert pickle.loads(pickle.dumps(plain))("Film a") == ["fil", "ilm", "a"]


def test_config_errors_are_reported():
    with pytest.raises(zoo.ZooError, match="n_min .* must not exceed n_max"):
        zoo.load_spec({"tokenizer": {"type": "char-ngrams", "n_min": 4, "n_max": 3}})
    with pytest.raises(zoo.ZooError, match="model.encoder.kernel_size: unknown field; did you mean 'kernel_sizes'"):
        zoo.load_spec({"model": {"encoder": {"type": "textcnn", "kernel_size": 3}}})


def test_all_three_train_and_reload(tmp_path):
    spec = {
        "tokenizer": {"type": "char-ngrams", "n_min": 3, "n_max": 4},
        "model": {"embedding": {"dim": 8}, "encoder": {"type": "textcnn", "channels": 8},
                  "head": {"type": "highway", "layers": 1}},
        "train": {"optimizer": {"lr": 0.01}},
    }
    summary = smoke_train(spec, tmp_path, epochs=2)
    assert summary["epochs_run"] == 2
    classifier = zoo.load(summary["run_dir"])
    assert classifier.spec.model.encoder.type == "textcnn"
    assert [p["label"] for p in classifier.predict(["zapfy glonk brivel", "mudge skorn drabble"])] == ["pos", "neg"]

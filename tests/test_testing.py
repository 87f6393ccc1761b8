"""zoo.testing's helpers as a plugin author uses them: contract checks and the smoke run."""

from __future__ import annotations

import json

import pytest
import torch

from plugin_packages import CNN_PLUGIN, LINES_PLUGIN, write_lines_data
from zoo.plugins import load_plugins
from zoo.rundir import RunDir
from zoo.testing import check_dataset, check_encoder, smoke_train


class MeanOfTokens(torch.nn.Module):
    """A parameter-free encoder: the mean of the real tokens' embeddings."""

    def __init__(self, input_size: int, mask: bool = True) -> None:
        super().__init__()
        self.output_size = input_size
        self.mask = mask

    def forward(self, x, lengths):
        keep = torch.arange(x.size(1))[None, :] < lengths[:, None] if self.mask else torch.ones(x.shape[:2], dtype=torch.bool)
        return (x * keep.unsqueeze(2)).sum(1) / lengths[:, None]


def test_check_encoder_accepts_a_parameter_free_encoder():
    assert check_encoder(MeanOfTokens(6), input_size=6).output_size == 6
    with pytest.raises(AssertionError, match="values in padded positions changed the output"):
        check_encoder(MeanOfTokens(6, mask=False), input_size=6)  # still held to padding invariance


@pytest.fixture
def dev_plugins(tmp_path, monkeypatch):
    """The plugins with two modules that are not installed: the test encoder and the test dataset."""
    (tmp_path / "dev_bag.py").write_text(CNN_PLUGIN)
    (tmp_path / "dev_lines.py").write_text(LINES_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    return load_plugins(("dev_bag", "dev_lines"))


def test_the_checks_take_what_load_plugins_returns_or_its_registry(dev_plugins):
    assert check_encoder({"type": "bag", "scale": 2.0}, input_size=5, registry=dev_plugins).output_size == 5
    assert check_encoder("bag", input_size=5, registry=dev_plugins.registry).output_size == 5


def test_smoke_train_trains_the_dataset_the_spec_names(dev_plugins, tmp_path):
    source = write_lines_data(tmp_path / "lines", per_label=10)
    spec = {"data": {"dataset": "lines", "source": str(source)}, "model": {"embedding": {"dim": 4}, "encoder": "bag"}}
    summary = smoke_train(spec, tmp_path / "smoke", plugins=dev_plugins)
    run = tmp_path / "smoke" / "run"
    assert RunDir(run).foreign_entries() == []  # zoo's files only
    assert json.loads((run / "run.json").read_text())["components"]["dataset/lines"]["plugin"] == "dev_lines"
    assert summary["test"]["count"] == 20  # the 20 lines of test.txt
    assert not (tmp_path / "smoke" / "data").exists()  # no made-up IMDB data was written


def test_check_dataset_passes_a_dataset_that_keeps_the_contract(dev_plugins, tmp_path):
    source = write_lines_data(tmp_path / "lines", per_label=3)
    splits = check_dataset("lines", source, registry=dev_plugins)
    assert {name: len(split) for name, split in splits.items()} == {"train": 6, "valid": 6, "test": 6}
    assert splits["train"].labels == [0, 0, 0, 1, 1, 1]


def _broken(how: str):
    """The test dataset broken in one way."""
    namespace: dict = {}
    exec(compile(LINES_PLUGIN, "dev_lines", "exec"), namespace)
    base = namespace["Lines"]

    class Broken(base):
        calls = 0

        def fingerprint(self, source):
            Broken.calls += 1
            return f"{super().fingerprint(source)}:{Broken.calls}" if how == "fingerprint" else super().fingerprint(source)

        def load(self, source, cache_dir, *, seed=1):
            splits = super().load(source, cache_dir, seed=seed)
            Broken.calls += 1
            if how == "split":
                del splits["valid"]
            elif how == "text":
                splits["test"].texts[0] = b"bytes"
            elif how == "label":
                splits["train"].labels[0] = 2
            elif how == "one class":
                splits["train"] = splits["train"].subset([0, 1])
            elif how == "random":
                splits["train"] = splits["train"].subset([0, 3] if Broken.calls % 2 else [3, 0])
            return splits

    return Broken(None)


@pytest.mark.parametrize(("how", "message"), [
    ("fingerprint", "fingerprint() changed after load()"),
    ("split", "expected the splits train, valid, test"),
    ("text", "split test: every text must be a str"),
    ("label", "split train: label ids must be 0..1"),
    ("one class", "training split of dataset Broken holds only one class (neg: 2, pos: 0)"),
    ("random", "a second load(seed=1) gave another train split"),
])
def test_check_dataset_names_the_broken_rule(tmp_path, how, message):
    source = write_lines_data(tmp_path / "lines", per_label=3)
    with pytest.raises(AssertionError) as caught:
        check_dataset(_broken(how), source)
    assert message in str(caught.value)


def test_check_tokenizer_fails_an_unpicklable_tokenizer_as_a_check_not_a_crash():
    from zoo.testing import check_tokenizer

    with pytest.raises(AssertionError, match="the tokenizer must be picklable"):
        check_tokenizer(lambda text: text.split())

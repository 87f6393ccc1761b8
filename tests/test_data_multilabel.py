"""The multi-label dataset contract: a plugin's lists of label ids become cached multi-hot rows."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from zoo.data.encode import EncodedSplit
from zoo.data.prepare import balanced_subset, prepare_data
from zoo.errors import DataError
from zoo.plugins import load_plugins
from zoo.spec import load_spec

TAGGED = '''
from pydantic import BaseModel, ConfigDict
from zoo import hookimpl
from zoo.data.interface import RawSplit

TAGS = [[2, 0], [1], [0, 1, 1], [2], [0], [1, 2]]


class TaggedConfig(BaseModel):
    """Texts with several tags each."""

    model_config = ConfigDict(extra="forbid")
    fault: str = ""


class Tagged:
    labels = ["news", "sport", "tech"]
    multilabel = True

    def __init__(self, config):
        self.config = config

    def fingerprint(self, source):
        return "tagged:" + self.config.fault

    def load(self, source, cache_dir, *, seed=1):
        tags = [list(t) for t in TAGS]
        if self.config.fault == "no tag":
            tags[3] = []
        if self.config.fault == "one id":
            tags[3] = 2
        if self.config.fault == "out of range":
            tags[3] = [3]
        texts = [" ".join(self.labels[i % 3] for i in set(t)) if isinstance(t, list) else "x" for t in tags]
        split = RawSplit(texts, tags)
        return {"train": split, "valid": split, "test": split}


@hookimpl
def register_components(registry):
    registry.register("dataset", "tagged", config=TaggedConfig, factory=Tagged)
'''


@pytest.fixture
def tagged(tmp_path, monkeypatch, data_cache):
    (tmp_path / "tagged_data.py").write_text(TAGGED)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_plugins(("tagged_data",)).registry

    def prepare(fault: str = "", **data):
        spec = load_spec({"data": {"dataset": {"type": "tagged", "fault": fault}, **data}}, registry=registry)
        return prepare_data(spec, registry)

    return prepare


def test_lists_of_ids_become_multi_hot_int8_rows_counted_per_label(tagged, data_cache):
    data = tagged()
    assert data.multilabel and data.info["multilabel"]
    train = data.splits["train"]
    assert train.multilabel and train.labels.dtype == np.int8 and train.labels.shape == (6, 3)
    assert train.labels.tolist() == [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]]
    assert data.info["counts"]["train"] == {"news": 3, "sport": 3, "tech": 3}
    meta = json.loads((Path(data.info["cache_path"]) / "meta.json").read_text())
    assert meta["multilabel"] is True
    again = tagged()
    assert again.info["cache_hit"] and again.multilabel
    assert np.array_equal(again.splits["valid"].labels, train.labels)


def test_limit_takes_a_seeded_random_subset_of_multilabel_data(tagged):
    data = tagged(limit=4)
    assert {name: len(split) for name, split in data.splits.items()} == {"train": 4, "valid": 4, "test": 4}
    hot = np.array([[1, 0], [0, 1], [1, 1], [0, 1], [1, 0]])
    picked = balanced_subset(hot, 3, seed=1, name="train")
    assert len(picked) == 3 and np.array_equal(picked, np.sort(picked))
    assert np.array_equal(picked, balanced_subset(hot, 3, seed=1, name="train"))
    assert len({tuple(balanced_subset(hot, 3, seed=s, name="train")) for s in range(8)}) > 1


@pytest.mark.parametrize("fault, message", [
    ("no tag", "dataset 'tagged', split train: every text needs at least one label"),
    ("one id", "dataset 'tagged', split train: labels must be a list of label ids per text"),
    ("out of range", "dataset 'tagged', split train: label ids must be 0..2 (['news', 'sport', 'tech'])"),
])
def test_a_plugins_bad_multilabel_output_is_a_clear_error(tagged, data_cache, fault, message):
    with pytest.raises(DataError) as info:
        tagged(fault)
    assert str(info.value) == message
    assert not list(data_cache.glob("prepared/[!.]*"))  # no cache entry was written


def test_single_label_entries_are_stored_as_before(tmp_path, imdb_files, data_cache, data_registry):
    folder = imdb_files.folder(tmp_path / "f", n=6)
    spec = load_spec({"data": {"source": str(folder), "dataset": {"type": "imdb", "valid_size": 2}}})
    data = prepare_data(spec, data_registry)
    assert not data.multilabel and data.info["multilabel"] is False
    entry = Path(data.info["cache_path"])
    assert "multilabel" not in json.loads((entry / "meta.json").read_text())
    with np.load(entry / "train.npz", allow_pickle=False) as stored:
        assert stored["labels"].dtype == np.int64 and stored["labels"].ndim == 1
    assert Counter(data.splits["test"].labels.tolist()) == {0: 6, 1: 6}


def test_a_cache_entry_whose_labels_disagree_with_its_meta_is_rebuilt(tagged, capsys):
    entry = Path(tagged().info["cache_path"])
    EncodedSplit(np.zeros(0, np.int32), np.zeros(7, np.int64), np.zeros(6, np.int64)).save(entry / "test.npz")
    rebuilt = tagged()
    assert not rebuilt.info["cache_hit"] and rebuilt.splits["test"].labels.shape == (6, 3)
    assert "ignoring unreadable data cache" in capsys.readouterr().err


def test_encoded_splits_keep_multi_hot_labels_through_subset_concat_and_files(tmp_path):
    split = EncodedSplit(np.arange(5, dtype=np.int32), np.array([0, 2, 5]), np.array([[1, 0, 1], [0, 1, 0]]))
    assert split.labels.dtype == np.int8 and split.multilabel
    assert split.subset([1]).labels.tolist() == [[0, 1, 0]]
    assert EncodedSplit.concat([split, split]).labels.shape == (4, 3)
    loaded = EncodedSplit.load(split.save(tmp_path / "s.npz"))
    assert loaded.labels.dtype == np.int8 and loaded.labels.tolist() == split.labels.tolist()

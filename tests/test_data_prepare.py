"""prepare_data: limit, train-only vocabulary, labels, the tokenize-once cache and its invalidation."""

from __future__ import annotations

import os
import shutil
from collections import Counter

import numpy as np
import pytest

from zoo.data import prepare as prepare_module
from zoo.data.prepare import balanced_subset, prepare_data
from zoo.data.vocab import Vocab
from zoo.errors import DataError
from zoo.spec import load_spec


@pytest.fixture
def folder(tmp_path, imdb_files):
    return imdb_files.folder(tmp_path / "data", n=12)


def make_spec(registry, source, tokenizer="words", **data):
    dataset = data.pop("dataset", {})
    spec = {
        "tokenizer": tokenizer,
        "data": {"source": str(source), "dataset": {"type": "imdb", "valid_size": 4, **dataset}, **data},
    }
    return load_spec(spec, registry=registry)


def entries(cache):
    root = cache / "prepared"
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def test_prepares_counts_labels_and_a_train_only_vocabulary(folder, data_cache, data_registry):
    data = prepare_data(make_spec(data_registry, folder), data_registry)
    assert data.labels == ["neg", "pos"]
    assert data.info["counts"] == {
        "train": {"neg": 10, "pos": 10},
        "valid": {"neg": 2, "pos": 2},
        "test": {"neg": 12, "pos": 12},
    }
    assert data.info["cache_hit"] is False
    assert data.info["cache_path"].startswith(str(data_cache))
    assert "testonly" not in data.vocab and "good" in data.vocab and ":)" in data.vocab
    test = data.splits["test"]
    assert all(Vocab.UNK in test[i] for i in range(len(test)))  # 'testonly' is unknown
    good, bad = data.vocab["good"], data.vocab["bad"]
    for name, split in data.splits.items():
        for i in range(len(split)):
            ids = split[i].tolist()
            assert split.labels[i] == (1 if good in ids else 0) and (bad in ids) != (good in ids)
    # the vocabulary is exactly the training reviews' words, by count then alphabetically
    tokenizer = data_registry.build("tokenizer", "words")
    raw = data_registry.build("dataset", {"type": "imdb", "valid_size": 4}).load(str(folder), data_cache)
    assert data.vocab == Vocab.build(tokenizer(t) for t in raw["train"].texts)


def test_second_call_is_a_cache_hit_with_identical_arrays(folder, data_cache, data_registry, monkeypatch):
    spec = make_spec(data_registry, folder)
    first = prepare_data(spec, data_registry)

    def must_not_tokenize(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(prepare_module, "tokenize_table", must_not_tokenize)
    second = prepare_data(spec, data_registry)
    assert second.info["cache_hit"] is True and second.vocab == first.vocab
    for name in first.splits:
        assert np.array_equal(first.splits[name].ids, second.splits[name].ids)
        assert np.array_equal(first.splits[name].labels, second.splits[name].labels)
    # vocabulary options never re-tokenize: the cached tokens are mapped again
    smaller = prepare_data(make_spec(data_registry, folder, min_freq=3), data_registry)
    assert smaller.info["cache_hit"] is True and len(smaller.vocab) < len(first.vocab)
    assert len(prepare_data(make_spec(data_registry, folder, max_size=5), data_registry).vocab) == 7
    assert entries(data_cache) == [os.path.basename(first.info["cache_path"])]


@pytest.mark.parametrize(
    "change",
    ["tokenizer-config", "tokenizer-type", "seed", "limit", "split", "source-edited", "source-moved"],
)
def test_cache_is_invalidated_when_what_it_depends_on_changes(change, folder, tmp_path, imdb_files, data_cache, data_registry):
    base = prepare_data(make_spec(data_registry, folder), data_registry)
    kw: dict = {}
    source = folder
    if change == "tokenizer-config":
        kw["tokenizer"] = {"type": "words", "emoticons": False}
    elif change == "tokenizer-type":
        kw["tokenizer"] = "whitespace"
    elif change == "seed":
        kw["seed"] = 2
    elif change == "limit":
        kw["limit"] = 6
    elif change == "split":
        kw["dataset"] = {"split": "random"}
    elif change == "source-edited":
        for review in (folder / "train" / "pos").iterdir():
            review.write_text(review.read_text(encoding="utf-8") + " brandnew", encoding="utf-8")
            os.utime(review, ns=(0, review.stat().st_mtime_ns + 10**9))
    else:
        source = imdb_files.archive(tmp_path / "aclImdb_v1.tar.gz", n=12)
    again = prepare_data(make_spec(data_registry, source, **kw), data_registry)
    assert again.info["cache_hit"] is False
    assert again.info["cache_path"] != base.info["cache_path"]
    if change == "tokenizer-config":
        assert ":)" in base.vocab and ":)" not in again.vocab
    if change == "source-edited":
        assert "brandnew" in again.vocab


def test_a_crash_while_writing_leaves_no_entry_that_looks_complete(folder, data_cache, data_registry, monkeypatch):
    spec = make_spec(data_registry, folder)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare_module, "atomic_write_json", crash)  # meta.json is written last
    with pytest.raises(KeyboardInterrupt):
        prepare_data(spec, data_registry)
    assert entries(data_cache) == []
    assert not any(p.suffix == ".tmp" for p in (data_cache / "prepared").iterdir())
    monkeypatch.undo()
    os.environ["ZOO_CACHE_DIR"] = str(data_cache)  # undo() restored the environment too
    assert prepare_data(spec, data_registry).info["cache_hit"] is False
    assert prepare_data(spec, data_registry).info["cache_hit"] is True


def test_an_unreadable_cache_entry_is_rebuilt(folder, data_cache, data_registry):
    spec = make_spec(data_registry, folder)
    entry = prepare_data(spec, data_registry).info["cache_path"]
    with open(os.path.join(entry, "train.npz"), "wb") as handle:
        handle.write(b"garbage")
    assert prepare_data(spec, data_registry).info["cache_hit"] is False
    assert prepare_data(spec, data_registry).info["cache_hit"] is True


def test_limit_takes_a_seeded_class_balanced_subset_of_each_split(folder, data_cache, data_registry):
    data = prepare_data(make_spec(data_registry, folder, limit=6), data_registry)
    assert data.info["counts"] == {s: {"neg": 3, "pos": 3} for s in ("train", "valid", "test")} | {
        "valid": {"neg": 2, "pos": 2}
    }
    again = prepare_data(make_spec(data_registry, folder, limit=6, min_freq=1), data_registry)
    assert np.array_equal(again.splits["train"].ids, data.splits["train"].ids)


def test_balanced_subset():
    labels = np.array([0] * 50 + [1] * 5 + [2] * 45)
    picked = balanced_subset(labels, 30, seed=1, name="train")
    assert Counter(labels[picked].tolist()) == {0: 13, 1: 5, 2: 12}  # 1 gives all it has
    assert np.array_equal(picked, np.sort(picked))
    assert np.array_equal(picked, balanced_subset(labels, 30, seed=1, name="train"))
    assert not np.array_equal(picked, balanced_subset(labels, 30, seed=2, name="train"))
    assert len(balanced_subset(labels, 500, seed=1)) == 100
    assert Counter(labels[balanced_subset(labels, 7, 0)].tolist()) == {0: 3, 1: 2, 2: 2}


def test_a_training_split_with_one_class_is_an_error(tmp_path, imdb_files, data_cache, data_registry):
    files = {k: v for k, v in imdb_files.reviews(6).items() if not k.startswith("train/neg")}
    folder = imdb_files.folder(tmp_path / "one", files=files)
    (folder / "train" / "neg").mkdir()  # there, but empty
    with pytest.raises(DataError, match=r"training split .* only one class \(neg: 0, pos: 2\)"):
        prepare_data(make_spec(data_registry, folder), data_registry)
    assert entries(data_cache) == []


def test_tokenizing_with_worker_processes_caches_the_same_data(tmp_path, imdb_files, data_cache, data_registry):
    folder = imdb_files.folder(tmp_path / "big", n=300)  # 1,200 reviews, 3 chunks
    one = prepare_data(make_spec(data_registry, folder), data_registry, workers=1, cache_root=tmp_path / "c1")
    two = prepare_data(make_spec(data_registry, folder), data_registry, workers=2, cache_root=tmp_path / "c2")
    assert one.vocab == two.vocab
    for name in one.splits:
        assert np.array_equal(one.splits[name].ids, two.splits[name].ids)
    assert not (data_cache / "prepared").exists()  # cache_root was honoured


def test_progress_is_shown_on_a_terminal_and_not_in_logs(folder, data_cache, data_registry):
    from rich.console import Console

    terminal = Console(record=True, width=100, force_terminal=True)
    prepare_data(make_spec(data_registry, folder), data_registry, console=terminal)
    assert "tokenizing" in terminal.export_text()
    shutil.rmtree(data_cache / "prepared")
    log = Console(record=True, width=100, force_terminal=False)
    prepare_data(make_spec(data_registry, folder), data_registry, console=log)
    assert log.export_text() == ""


def test_leftovers_of_a_killed_build_are_cleared_and_never_read(folder, data_cache, data_registry):
    spec = make_spec(data_registry, folder)
    entry = prepare_data(spec, data_registry).info["cache_path"]
    name = os.path.basename(entry)
    stale = data_cache / "prepared" / f".{name}.abc123.tmp"
    stale.mkdir()
    (stale / "train.npz").write_bytes(b"half")
    import shutil

    shutil.rmtree(entry)
    assert prepare_data(spec, data_registry).info["cache_hit"] is False
    assert not stale.exists()


def test_summary_table_lists_splits_and_labels(folder, data_cache, data_registry):
    from rich.console import Console

    from zoo.data.prepare import summary_table

    console = Console(record=True, width=200)
    console.print(summary_table(prepare_data(make_spec(data_registry, folder), data_registry)))
    text = console.export_text()
    assert all(word in text for word in ("train", "valid", "test", "neg", "pos", "10", "12"))
    assert str(data_cache) in "".join(text.split())  # long paths wrap


@pytest.mark.parametrize("damage", ["swap train and test", "truncate", "empty", "swap tokens"])
def test_a_cache_entry_that_does_not_verify_is_rebuilt_with_a_warning_never_used(
        damage, folder, data_cache, data_registry, capfd):
    """meta.json records each file's size and sha256; a swapped, truncated or emptied file is
    noticed on the next read (issue 20, item 8)."""
    spec = make_spec(data_registry, folder)
    first = prepare_data(spec, data_registry)
    entry = first.info["cache_path"]
    train, test = os.path.join(entry, "train.npz"), os.path.join(entry, "test.npz")
    if damage == "swap train and test":
        os.rename(train, train + ".x")
        os.rename(test, train)
        os.rename(train + ".x", test)
    elif damage == "truncate":
        os.truncate(train, os.path.getsize(train) // 2)
    elif damage == "empty":
        os.truncate(test, 0)
    else:
        tokens = os.path.join(entry, "tokens.json")
        with open(tokens, "w", encoding="utf-8") as handle:
            handle.write('["<pad>", "zzz"]')
    capfd.readouterr()
    again = prepare_data(spec, data_registry)
    assert again.info["cache_hit"] is False
    assert "zoo: warning: ignoring unreadable data cache" in capfd.readouterr().err
    assert again.vocab == first.vocab and again.info["counts"] == first.info["counts"]
    for name in first.splits:
        assert np.array_equal(again.splits[name].ids, first.splits[name].ids)
    assert prepare_data(spec, data_registry).info["cache_hit"] is True


def test_each_cache_file_is_recorded_with_its_size_and_sha256(folder, data_cache, data_registry):
    import hashlib
    import json

    entry = prepare_data(make_spec(data_registry, folder), data_registry).info["cache_path"]
    records = json.loads(open(os.path.join(entry, "meta.json"), encoding="utf-8").read())["files"]
    assert sorted(records) == ["test.npz", "tokens.json", "train.npz", "valid.npz"]
    for name, record in records.items():
        content = open(os.path.join(entry, name), "rb").read()
        assert record == {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def test_with_a_limit_only_the_kept_reviews_are_read(tmp_path, imdb_files, data_cache, data_registry):
    """(issue 20, item 4) The kept subset is chosen from the file names; the other reviews are
    never read: here they are not even UTF-8, and only a run without a limit trips on them."""
    files = imdb_files.reviews(n=10)
    good = imdb_files.archive(tmp_path / "good.tar.gz", files)
    kept = data_registry.build("dataset", {"type": "imdb", "valid_size": 4}).load(str(good), data_cache, limit=4)
    texts = {text for split in kept.values() for text in split.texts}
    assert len(texts) == 12
    mined = {name: content if content.decode() in texts else b"\xff\xfe not UTF-8" for name, content in files.items()}
    for source in (imdb_files.archive(tmp_path / "mined.tar.gz", mined), imdb_files.folder(tmp_path / "f", mined)):
        limited = prepare_data(make_spec(data_registry, source, limit=4), data_registry)
        reference = prepare_data(make_spec(data_registry, good, limit=4), data_registry)
        assert limited.info["counts"] == reference.info["counts"] and limited.vocab == reference.vocab
        with pytest.raises(DataError, match="not UTF-8"):
            prepare_data(make_spec(data_registry, source), data_registry)

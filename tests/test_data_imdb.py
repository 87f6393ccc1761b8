"""The imdb dataset plugin: sources, layout, labels, splits, refusals with clear messages."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import pytest

from _zoo_builtins.imdb import OFFICIAL_URL, ImdbConfig
from _zoo_builtins.imdb_reader import ImdbDataset
from conftest import REAL_IMDB_SOURCE as REAL_SOURCE
from zoo.data.interface import Dataset
from zoo.errors import DataError


def imdb(**config):
    return ImdbDataset(ImdbConfig(**{"valid_size": 4, **config}))


def test_registered_as_a_lazy_plugin_component(data_registry):
    component = data_registry.get("dataset", "imdb")
    assert component.factory == "_zoo_builtins.imdb_reader:build"
    assert component.plugin.name == "builtin-imdb"
    dataset = data_registry.build("dataset", {"type": "imdb", "split": "random"})
    assert isinstance(dataset, Dataset) and dataset.config.split == "random"
    assert dataset.labels == ["neg", "pos"]


def test_folder_and_archive_give_the_same_reviews_with_pos_1_neg_0(tmp_path, data_cache, imdb_files):
    folder = imdb_files.folder(tmp_path / "f")
    archive = imdb_files.archive(tmp_path / "aclImdb_v1.tar.gz")
    from_folder = imdb().load(str(folder), data_cache)
    from_parent = imdb().load(str(folder.parent), data_cache)  # the folder holding aclImdb/
    from_archive = imdb().load(str(archive), data_cache)
    extracted = imdb(extract=True).load(str(archive), data_cache)
    for other in (from_parent, from_archive, extracted):
        assert {k: (v.texts, v.labels) for k, v in other.items()} == {
            k: (v.texts, v.labels) for k, v in from_folder.items()
        }
    for split in from_folder.values():
        for text, label in zip(split.texts, split.labels, strict=True):
            assert label == (1 if "good great" in text else 0)
    assert not (data_cache / "prepared").exists()  # the dataset itself writes no token cache
    assert list((data_cache / "imdb" / "extracted").iterdir())  # extract=True extracted there


def test_official_split_is_seeded_class_balanced_and_keeps_test_apart(tmp_path, data_cache, imdb_files):
    folder = imdb_files.folder(tmp_path / "f", n=10)
    splits = imdb().load(str(folder), data_cache, seed=1)
    assert {k: len(v) for k, v in splits.items()} == {"train": 16, "valid": 4, "test": 20}
    assert Counter(splits["valid"].labels) == {0: 2, 1: 2}
    assert all("testonly" in t for t in splits["test"].texts)
    assert not any("testonly" in t for t in splits["train"].texts + splits["valid"].texts)
    assert not set(splits["train"].texts) & set(splits["valid"].texts)
    assert imdb().load(str(folder), data_cache, seed=1)["valid"].texts == splits["valid"].texts
    others = [imdb().load(str(folder), data_cache, seed=s)["valid"].texts for s in range(2, 6)]
    assert any(o != splits["valid"].texts for o in others)


def test_random_split_shuffles_all_reviews_the_notebook_way(tmp_path, data_cache, imdb_files):
    folder = imdb_files.folder(tmp_path / "f", n=10)
    splits = imdb(split="random").load(str(folder), data_cache, seed=3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 16, "valid": 4, "test": 20}
    every = [t for s in splits.values() for t in s.texts]
    official = imdb().load(str(folder), data_cache)
    assert sorted(every) == sorted(t for s in official.values() for t in s.texts)
    assert any("testonly" in t for t in splits["train"].texts)  # test reviews mixed into training
    assert imdb(split="random").load(str(folder), data_cache, seed=3)["test"].texts == splits["test"].texts


def test_source_order_spec_then_environment_then_official_url(tmp_path, data_cache, imdb_files, monkeypatch):
    folder = imdb_files.folder(tmp_path / "f")
    archive = imdb_files.archive(tmp_path / "a.tar.gz")
    assert imdb().resolve(None).location == OFFICIAL_URL
    monkeypatch.setenv("ZOO_IMDB_SOURCE", str(archive))
    assert imdb().resolve(None).kind == "archive"
    assert imdb().resolve(str(folder)).kind == "folder"
    assert "ZOO_IMDB_SOURCE" in imdb().describe(None)


def test_download_from_the_configured_url_is_cached_and_checksummed(data_cache, served):
    url, digest, requests = served
    dataset = imdb(url=url, sha256=digest)
    assert dataset.fingerprint(None) == f"url:{url}:sha256:{digest}"
    splits = dataset.load(None, data_cache)
    assert len(splits["test"]) == 20
    downloaded = list((data_cache / "downloads").rglob("*.tar.gz"))
    assert len(downloaded) == 1 and hashlib.sha256(downloaded[0].read_bytes()).hexdigest() == digest
    with pytest.raises(DataError, match="checksum mismatch"):
        imdb(url=url, sha256="0" * 64).load(None, data_cache)


def test_an_address_other_than_the_official_one_needs_a_checksum(data_cache, served, monkeypatch):
    url, digest, requests = served
    for refused in (imdb().resolve, imdb().fingerprint, lambda source: imdb().load(source, data_cache)):
        with pytest.raises(DataError, match=r"refusing to download http://127.0.0.1.* \(from data.source\) without a "
                                            r"checksum.*#sha256="):
            refused(url)
    monkeypatch.setenv("ZOO_IMDB_SOURCE", url)
    with pytest.raises(DataError, match=r"\(from ZOO_IMDB_SOURCE\) without a checksum"):
        imdb().load(None, data_cache)
    monkeypatch.delenv("ZOO_IMDB_SOURCE")
    with pytest.raises(DataError, match=r"\(from data.dataset.url\) without a checksum"):
        imdb(url=url, sha256=None).load("", data_cache)
    assert requests == []  # refused before any connection
    with pytest.raises(DataError, match="fragment must be #sha256=<64 hex digits>"):
        imdb().load(url + "#md5=abc", data_cache)
    splits = imdb().load(f"{url}#sha256={digest}", data_cache)  # its checksum in the URL: fetched, verified
    assert len(splits["test"]) == 20 and len(requests) == 1
    with pytest.raises(DataError, match="checksum mismatch"):
        imdb().load(f"{url}?again#sha256={'0' * 64}", data_cache)


def test_a_file_url_is_the_path_it_names_with_a_paths_checks(tmp_path, data_cache, imdb_files):
    archive = imdb_files.archive(tmp_path / "a.tar.gz")
    assert imdb().resolve(archive.as_uri()) == imdb().resolve(str(archive))
    assert imdb().load(archive.as_uri(), data_cache)["test"].texts == imdb().load(str(archive), data_cache)["test"].texts
    assert not (data_cache / "downloads").exists()
    with pytest.raises(DataError, match="does not exist"):
        imdb().load((tmp_path / "nowhere.tar.gz").as_uri(), data_cache)
    with pytest.raises(DataError, match="a file URL on another host"):
        imdb().load("file://elsewhere/etc/passwd", data_cache)
    secrets = tmp_path / "home"
    (secrets / ".ssh").mkdir(parents=True)
    (secrets / ".ssh" / "id_rsa").write_text("secret")
    with pytest.raises(DataError, match="has no train/ and test/ folders"):
        imdb().load(secrets.as_uri(), data_cache)


def test_missing_source_names_the_path_and_what_to_do(tmp_path, data_cache):
    with pytest.raises(DataError, match=r"nowhere.tar.gz \(from data.source\) does not exist.*ZOO_IMDB_SOURCE"):
        imdb().load(str(tmp_path / "nowhere.tar.gz"), data_cache)


def test_empty_folder_and_folder_without_reviews(tmp_path, data_cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty has no train/ and test/ folders"):
        imdb().load(str(tmp_path / "empty"), data_cache)
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            (tmp_path / "bare" / split / label).mkdir(parents=True)
    with pytest.raises(DataError, match=r"no reviews in .*bare/train/pos"):
        imdb().load(str(tmp_path / "bare"), data_cache)


def test_a_missing_label_folder_is_an_error_not_an_empty_class(tmp_path, data_cache, imdb_files):
    folder = imdb_files.folder(tmp_path / "f", n=4)
    import shutil

    shutil.rmtree(folder / "test" / "neg")
    with pytest.raises(DataError, match=r"test/neg does not exist: the IMDB layout has pos/ and neg/"):
        imdb().load(str(folder), data_cache)


def test_concurrent_extractions_share_one_folder_and_never_lose_it(tmp_path, data_cache, imdb_files):
    """Two processes with different data.limit extract and read the same archive at once."""
    import subprocess
    import sys

    archive = imdb_files.archive(tmp_path / "a.tar.gz", n=30)
    script = (
        "import sys; from zoo.plugins import load_plugins; from pathlib import Path\n"
        "ds = load_plugins().registry.build('dataset', {'type': 'imdb', 'extract': True, 'valid_size': 4})\n"
        "for _ in range(5):\n"
        "    splits = ds.load(sys.argv[1], Path(sys.argv[2]))\n"
        "    assert sorted(set(splits['test'].labels)) == [0, 1], splits['test'].labels\n"
    )
    workers = [subprocess.Popen([sys.executable, "-c", script, str(archive), str(data_cache)],
                                stderr=subprocess.PIPE) for _ in range(3)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0, worker.stderr.read().decode()
    assert len(list((data_cache / "imdb" / "extracted").iterdir())) == 2  # the folder and its lock


def test_archive_without_the_imdb_layout(tmp_path, data_cache, imdb_files):
    other = imdb_files.archive(tmp_path / "other.tar.gz", files={"readme.txt": b"hello"})
    with pytest.raises(DataError, match=r"other.tar.gz holds no reviews under aclImdb/train"):
        imdb().load(str(other), data_cache)


def test_non_utf8_review_names_the_file(tmp_path, data_cache, imdb_files):
    files = imdb_files.reviews(3)
    files["train/pos/7_9.txt"] = b"caf\xe9 latin-1 text"
    folder = imdb_files.folder(tmp_path / "f", files=files)
    with pytest.raises(DataError, match=r"train/pos/7_9.txt is not UTF-8"):
        imdb().load(str(folder), data_cache)
    archive = imdb_files.archive(tmp_path / "a.tar.gz", files=files)
    with pytest.raises(DataError, match=r"a.tar.gz: member aclImdb/train/pos/7_9.txt is not UTF-8"):
        imdb().load(str(archive), data_cache)


def test_a_ten_megabyte_review_is_refused_with_the_option_to_raise(tmp_path, data_cache, imdb_files):
    files = imdb_files.reviews(3)
    files["test/neg/5_1.txt"] = b"word " * 2_000_000
    folder = imdb_files.folder(tmp_path / "f", files=files)
    with pytest.raises(DataError, match=r"5_1.txt is 10.0 MB.*max_review_bytes"):
        imdb().load(str(folder), data_cache)
    assert len(imdb(max_review_bytes=20_000_000).load(str(folder), data_cache)["test"]) == 7


def test_malicious_archive_refused_before_anything_is_written(tmp_path, data_cache, imdb_files):
    escape = imdb_files.member("aclImdb/train/pos/x.txt", kind=b"2", link="../../../../../escaped")
    archive = imdb_files.archive(tmp_path / "evil.tar.gz", n=2, extra=[escape])
    for extract in (False, True):
        with pytest.raises(DataError, match="refusing unsafe archive member"):
            imdb(extract=extract).load(str(archive), data_cache)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "evil.tar.gz"]
    leftovers = [p for p in data_cache.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert leftovers == []  # nothing but empty lock files


def test_valid_size_too_large_is_explained(tmp_path, data_cache, imdb_files):
    folder = imdb_files.folder(tmp_path / "f", n=2)
    with pytest.raises(DataError, match="valid_size is 5000.*only 4 training reviews"):
        ImdbDataset(ImdbConfig()).load(str(folder), data_cache)


def test_fingerprint_follows_the_data(tmp_path, imdb_files):
    folder = imdb_files.folder(tmp_path / "f")
    first = imdb().fingerprint(str(folder))
    assert imdb().fingerprint(str(folder)) == first
    review = folder / "train" / "pos" / "3_8.txt"
    review.write_text(review.read_text() + " edited")
    os.utime(review, ns=(review.stat().st_atime_ns, review.stat().st_mtime_ns + 10**9))
    assert imdb().fingerprint(str(folder)) != first


@pytest.mark.skipif(not REAL_SOURCE, reason="set ZOO_IMDB_SOURCE to the real aclImdb_v1.tar.gz")
def test_the_real_archive_has_12500_reviews_per_split_and_label(tmp_path):
    source = str(Path(REAL_SOURCE).expanduser())
    splits = ImdbDataset(ImdbConfig()).load(source, tmp_path / "cache")
    training = Counter(splits["train"].labels) + Counter(splits["valid"].labels)
    assert training == {0: 12_500, 1: 12_500}
    assert Counter(splits["test"].labels) == {0: 12_500, 1: 12_500}
    assert (len(splits["train"]), len(splits["valid"])) == (20_000, 5_000)
    assert Counter(splits["valid"].labels) == {0: 2_500, 1: 2_500}


def test_offline_without_a_local_source_says_what_to_do(data_cache, monkeypatch):
    import urllib.error

    from zoo.data import download as download_module

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download_module.urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as err:
        ImdbDataset(ImdbConfig()).load(None, data_cache)
    assert OFFICIAL_URL in str(err.value) and "ZOO_IMDB_SOURCE" in str(err.value)
    assert not any(p.is_file() for p in data_cache.rglob("*"))


def test_the_bounds_on_a_source_are_dataset_options(tmp_path, data_cache, imdb_files):
    """(issue 20, item 4) max_files and max_total_bytes bound archives and folders alike."""
    archive = imdb_files.archive(tmp_path / "a.tar.gz", n=10)
    folder = imdb_files.folder(tmp_path / "f", n=10)
    for source in (archive, folder):
        with pytest.raises(DataError, match=r"more than 30 (members|review files) \(.*max_files\)"):
            imdb(max_files=30).load(str(source), data_cache)
        with pytest.raises(DataError, match=r"more than 2,000 bytes.*max_total_bytes"):
            imdb(max_total_bytes=2_000).load(str(source), data_cache)
        assert len(imdb(max_files=45, max_total_bytes=10_000).load(str(source), data_cache)["test"]) == 20
    with pytest.raises(DataError, match="max_files"):
        imdb(max_files=30, extract=True).load(str(archive), data_cache)


def test_a_source_that_is_a_fifo_or_a_device_is_refused_without_reading_it(tmp_path, data_cache):
    import threading

    fifo = tmp_path / "aclImdb_v1.tar.gz"
    os.mkfifo(fifo)
    for source in (str(fifo), "/dev/zero", fifo.as_uri()):
        failures: list[Exception] = []

        def load(source=source):
            try:
                imdb().load(source, data_cache)
            except Exception as exc:  # noqa: BLE001 - the test inspects it
                failures.append(exc)

        worker = threading.Thread(target=load, daemon=True)  # a regression would block here, not the suite
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive(), f"reading {source} did not end"
        assert isinstance(failures[0], DataError) and "is neither a file nor a folder" in str(failures[0])

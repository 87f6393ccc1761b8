"""Untrusted archives and downloads: unsafe members refused, corruption reported, nothing half-written."""

from __future__ import annotations

import hashlib
import tarfile
import urllib.error

import pytest

from zoo.data import download as download_module
from zoo.data.archive import iter_files, safe_extract
from zoo.data.download import download
from zoo.errors import DataError

UNSAFE = {
    "dotdot": dict(name="aclImdb/../../escaped.txt"),
    "absolute": dict(name="/tmp/zoo-absolute-escape.txt"),
    "symlink-out": dict(name="aclImdb/train/pos/link.txt", kind=tarfile.SYMTYPE, link="../../../../outside.txt"),
    "symlink-absolute": dict(name="aclImdb/train/pos/abs.txt", kind=tarfile.SYMTYPE, link="/etc/passwd"),
    "hardlink-out": dict(name="aclImdb/train/pos/hard.txt", kind=tarfile.LNKTYPE, link="../outside.txt"),
    "device": dict(name="aclImdb/train/pos/dev.txt", kind=tarfile.CHRTYPE),
}


def tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_members_are_refused_by_reader_and_extractor(case, tmp_path, imdb_files):
    archive = imdb_files.archive(tmp_path / "in" / "evil.tar.gz", n=2, extra=[imdb_files.member(**UNSAFE[case])])
    work = tmp_path / "work"
    work.mkdir()
    before = tree(tmp_path)
    with pytest.raises(DataError, match="refusing unsafe archive member") as err:
        list(iter_files(archive, lambda name: True))
    assert str(archive) in str(err.value)
    with pytest.raises(DataError, match="unsafe"):
        safe_extract(archive, work / "deep" / "target")
    assert tree(tmp_path) == before + ["work/deep"]  # only the (empty) parent of the target
    assert not (work / "deep" / "target").exists()


def test_a_symlink_that_stays_inside_is_extracted(tmp_path, imdb_files):
    inside = imdb_files.member("aclImdb/train/pos/alias.txt", kind=tarfile.SYMTYPE, link="0_8.txt")
    archive = imdb_files.archive(tmp_path / "ok.tar.gz", n=1, extra=[inside])
    target = safe_extract(archive, tmp_path / "out")
    assert (target / "aclImdb/train/pos/alias.txt").read_text() == (target / "aclImdb/train/pos/0_8.txt").read_text()


def test_truncated_gzip_is_a_data_error_and_extraction_leaves_nothing(tmp_path, imdb_files):
    archive = imdb_files.archive(tmp_path / "a.tar.gz", n=50)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        list(iter_files(archive, lambda name: True))
    with pytest.raises(DataError, match="truncated or corrupt"):
        safe_extract(archive, tmp_path / "out")
    assert tree(tmp_path) == ["a.tar.gz"]


def test_a_file_that_is_not_an_archive_is_a_data_error(tmp_path):
    junk = tmp_path / "aclImdb_v1.tar.gz"
    junk.write_bytes(b"<html>404 not found</html>" * 10)
    with pytest.raises(DataError, match=str(junk)):
        list(iter_files(junk, lambda name: True))


def test_oversized_member_is_refused(tmp_path, imdb_files):
    archive = imdb_files.archive(tmp_path / "a.tar.gz", files={"train/pos/big_9.txt": b"a " * 600_000})
    with pytest.raises(DataError, match="big_9.txt.*1.2 MB"):
        list(iter_files(archive, lambda name: True, max_bytes=1_000_000))


def test_extraction_replaces_nothing_until_complete(tmp_path, imdb_files):
    good = imdb_files.archive(tmp_path / "good.tar.gz", n=1)
    target = safe_extract(good, tmp_path / "out")
    first = tree(target)
    bad = imdb_files.archive(tmp_path / "bad.tar.gz", n=1, extra=[imdb_files.member("../x.txt")])
    with pytest.raises(DataError):
        safe_extract(bad, target)
    assert tree(target) == first


# -- downloads --------------------------------------------------------------------------------


def test_download_verifies_the_checksum_and_lands_once(tmp_path, imdb_files, monkeypatch):
    archive = imdb_files.archive(tmp_path / "src.tar.gz", n=1)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    dest = tmp_path / "cache" / "downloads" / "a.tar.gz"
    assert download(archive.as_uri(), dest, sha256=digest) == dest
    assert dest.read_bytes() == archive.read_bytes()

    def no_network(*args, **kwargs):
        raise AssertionError("downloaded twice")

    monkeypatch.setattr(download_module.urllib.request, "urlopen", no_network)
    assert download(archive.as_uri(), dest, sha256=digest) == dest


def test_checksum_mismatch_discards_the_download(tmp_path, imdb_files):
    archive = imdb_files.archive(tmp_path / "src.tar.gz", n=1)
    dest = tmp_path / "cache" / "a.tar.gz"
    with pytest.raises(DataError, match="checksum mismatch.*src.tar.gz"):
        download(archive.as_uri(), dest, sha256="0" * 64)
    assert list(dest.parent.iterdir()) == []


def test_no_network_names_the_address_and_the_way_out(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download_module.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match=r"https://example.invalid/x.tar.gz.*name resolution.*ZOO_IMDB_SOURCE"):
        download("https://example.invalid/x.tar.gz", tmp_path / "x.tar.gz", hint="Set ZOO_IMDB_SOURCE.")
    assert list(tmp_path.iterdir()) == []


def test_an_archive_is_bounded_in_members_and_uncompressed_bytes(tmp_path, imdb_files):
    """(issue 20, item 4) Limits on every member (wanted or not), counted from the headers, so a
    small archive of large, compressible members is refused after reading at most the limit."""
    bomb = {f"train/pos/{i}_9.txt": b"great " * 160_000 for i in range(40)}  # 40 x ~1 MB
    archive = imdb_files.archive(tmp_path / "bomb.tar.gz", bomb)
    assert archive.stat().st_size < 400_000
    with pytest.raises(DataError, match=r"bomb.tar.gz: its members add up to more than 5,000,000 bytes uncompressed "
                                        r"\(the dataset's max_total_bytes\)"):
        list(iter_files(archive, lambda name: False, max_total_bytes=5_000_000))
    with pytest.raises(DataError, match=r"bomb.tar.gz holds more than 30 members \(the dataset's max_files\)"):
        list(iter_files(archive, lambda name: True, max_members=30, contents=False))
    for limits in ({"max_total_bytes": 5_000_000}, {"max_members": 30}):
        with pytest.raises(DataError, match="refusing it"):
            safe_extract(archive, tmp_path / "out", **limits)
        assert not (tmp_path / "out").exists()
    assert len(list(iter_files(archive, lambda name: True, max_members=40, max_total_bytes=40 * 960_000))) == 40
    assert [content for _, content in iter_files(archive, lambda name: True, contents=False)] == [None] * 40

"""Packs are received files: crafted zips (``..``, absolute paths, links, folders, unknown or repeated
members, a zip bomb, too many members) are refused with one line, and nothing is written outside
the folder unpacked into, nor left behind (made-up zips; no model needed)."""

from __future__ import annotations

import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from zoo.errors import RunError
from zoo.export.pack import MAX_RATIO, unpack

MANIFEST = b'{"format": "zoo-export"}'


def crafted(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # zipfile warns about the repeated name we mean to write
        for name, data in members:
            archive.writestr(name, data)
    return path


def link(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


CASES = {
    "a .. path": ([("export.json", MANIFEST), ("../escaped.txt", b"x")], "'../escaped.txt' leads out of the folder"),
    "an absolute path": ([("/tmp/escaped.txt", b"x")], "'/tmp/escaped.txt' leads out of the folder"),
    "a nested ..": ([("a/../../escaped.txt", b"x")], "leads out of the folder"),
    "a symbolic link": ([(link("vocab.json", "/etc/passwd"), b"/etc/passwd")], "'vocab.json' is a symbolic link"),
    "a folder": ([("spec.yaml/", b"")], "is a folder"),
    "an unknown member": ([("export.json", MANIFEST), ("run.sh", b"rm -rf ~")], "'run.sh' is not a file of an export"),
    "a repeated member": ([("labels.json", b"{}"), ("labels.json", b"{}")], "'labels.json' appears twice"),
    "too many members": ([(f"f{i}", b"") for i in range(40)], "40 members; an export pack holds at most 9"),
    "a zip bomb": ([("model.onnx", b"\0" * (MAX_RATIO * 2000))], "'model.onnx' inflates to more than the 100 times"),
    "no export.json": ([("README.md", b"hello")], "holds no export.json; not an export pack"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_crafted_pack_is_refused_and_nothing_is_written(case, tmp_path):
    members, expected = CASES[case]
    pack = crafted(tmp_path / "crafted.zip", members)
    (tmp_path / "unpack").mkdir()
    with pytest.raises(RunError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        unpack(pack, tmp_path / "unpack" / "here")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crafted.zip", "unpack"]
    assert list((tmp_path / "unpack").iterdir()) == []  # no target, no staging folder left behind
    assert not Path("/tmp/escaped.txt").exists()


def test_a_pack_that_inflates_past_the_bound_is_refused_whatever_its_headers_say(tmp_path):
    pack = crafted(tmp_path / "big.zip", [("export.json", MANIFEST), ("model.onnx", bytes(range(256)) * 64)])
    with pytest.raises(RunError, match="inflates to more bytes than a pack may unpack to"):
        unpack(pack, tmp_path / "out", max_bytes=1000)
    assert not (tmp_path / "out").exists()


def test_not_a_zip_and_a_truncated_zip_are_one_line(tmp_path):
    good = crafted(tmp_path / "good.zip", [("export.json", MANIFEST), ("README.md", b"x" * 5000)])
    (tmp_path / "cut.zip").write_bytes(good.read_bytes()[:-40])
    for source in (tmp_path / "cut.zip",):
        with pytest.raises(RunError, match="not a readable zip file"):
            unpack(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_cli_names_a_crafted_pack_in_one_line(tmp_path):
    from plugin_packages import run_zoo

    pack = crafted(tmp_path / "evil.zip", [("export.json", MANIFEST), ("../../escaped.txt", b"x")])
    result = run_zoo("predict", str(pack), "hello")
    stderr = result.stderr.decode()
    assert result.returncode == 2 and "leads out of the folder it is unpacked into" in stderr and "Traceback" not in stderr
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_a_damaged_member_is_named_in_the_pack_not_in_a_removed_temporary_folder(tmp_path):
    """The pack is read from a temporary folder that is gone by the time the error is printed."""
    import zoo.runtime

    pack = crafted(tmp_path / "damaged.zip", [("export.json", MANIFEST)])
    with pytest.raises(RunError) as caught:
        zoo.runtime.load(pack)
    message = str(caught.value)
    assert message.startswith(f"{pack}: export.json: ") and "zoo-pack-" not in message, message

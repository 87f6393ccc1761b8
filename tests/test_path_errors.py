"""A location the operating system refuses gives one message naming it, its origin and the error.

Each path a user names (the cache, ``--out``, ``--resume``, a run, a spec, a data source) is
tried under a regular file and in a folder that cannot be written (outputs) or read (inputs).
Permissions mean nothing to root, so where the tests run as root the command runs with root's
capabilities dropped (it then obeys the permission bits like the owner it is).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.testing import write_imdb_folder

PR_CAPBSET_DROP = 24


def _without_privileges() -> None:
    """In the child, before exec: drop every capability, so that root obeys permission bits."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in range(64):
            libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)


def zoo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ZOO_", "XDG_"))}
    return subprocess.run([sys.executable, "-m", "zoo", *args], env={**full, **env}, capture_output=True,
                          text=True, preexec_fn=_without_privileges, timeout=300)


@pytest.fixture
def places(tmp_path: Path):
    """A regular file, a folder that cannot be written, one that cannot be read, data and a cache."""
    (tmp_path / "file").write_text("not a folder")
    locked, hidden = tmp_path / "read-only", tmp_path / "unreadable"
    locked.mkdir()
    hidden.mkdir()
    source = write_imdb_folder(tmp_path / "data", per_label=8)
    (hidden / "spec.yaml").write_text("name: x\n")
    (hidden / "run").mkdir()
    (hidden / "run" / "spec.yaml").write_text("name: x\n")
    write_imdb_folder(hidden, per_label=2)
    locked_run = locked / "run"
    locked_run.mkdir()
    (locked_run / "spec.yaml").write_text(f"name: x\ndata: {{source: {source}, dataset: {{type: imdb, valid_size: 4}}}}\n")
    locked.chmod(0o555)
    locked_run.chmod(0o555)
    hidden.chmod(0o000)
    probe = subprocess.run([sys.executable, "-c", f"open({str(locked / 'probe')!r}, 'w')"],
                           preexec_fn=_without_privileges, capture_output=True)
    if probe.returncode == 0:
        hidden.chmod(0o755)
        locked.chmod(0o755)
        locked_run.chmod(0o755)
        pytest.skip("cannot take away the permission override of root here (prctl PR_CAPBSET_DROP refused)")
    yield {"file": tmp_path / "file", "locked": locked, "hidden": hidden, "source": source,
           "cache": tmp_path / "cache"}
    hidden.chmod(0o755)
    locked.chmod(0o755)
    locked_run.chmod(0o755)


TRAIN = ["train", "imdb-lstm", "--set", "data.dataset.valid_size=4", "--set", "train.epochs=1",
         "--set", "model.encoder.hidden_size=4"]


def assert_one_message(result: subprocess.CompletedProcess, *parts: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("error: ") == 1, result.stderr  # after any progress line ("data: ...")
    assert "Traceback" not in result.stderr
    for part in parts:
        assert part in result.stderr


@pytest.mark.parametrize("where", ["file", "locked"])
def test_cache(places, where):
    cache = places[where] / "cache"
    result = zoo("data", "--source", str(places["source"]), "--set", "data.dataset.valid_size=4",
                 env={"ZOO_CACHE_DIR": str(cache)})
    reason = f"{places['file']} is a file, not a folder" if where == "file" else "Permission denied"
    assert_one_message(result, f"cannot use {cache} (ZOO_CACHE_DIR)", reason)


def test_default_cache_under_a_file(places):
    result = zoo("data", "--source", str(places["source"]), env={"XDG_CACHE_HOME": str(places["file"])})
    assert_one_message(result, f"cannot use {places['file']}/zoo (XDG_CACHE_HOME; set ZOO_CACHE_DIR",
                       "is a file, not a folder")


@pytest.mark.parametrize("where", ["file", "locked"])
def test_out(places, where):
    out = places[where] / "new" / "run"  # its parent must be created first
    result = zoo(*TRAIN, "--set", f"data.source={places['source']}", "--out", str(out),
                 env={"ZOO_CACHE_DIR": str(places["cache"])})
    assert_one_message(result, f"cannot use {out} (--out)")


def test_resume_of_a_run_that_cannot_be_written(places):
    run = places["locked"] / "run"
    result = zoo("train", "--resume", str(run), env={"ZOO_CACHE_DIR": str(places["cache"])})
    assert_one_message(result, f"cannot use {run} (--resume): Permission denied: {run}/vocab.json")


@pytest.mark.parametrize(("verb", "origin"), [("resume", "--resume"), ("predict", "the run"), ("evaluate", "the run")])
def test_runs_that_cannot_be_read(places, verb, origin):
    run = places["hidden"] / "run"
    args = ["train", "--resume", str(run)] if verb == "resume" else [verb, str(run), *(["hello"] if verb == "predict" else [])]
    assert_one_message(zoo(*args, env={}), f"cannot use {run} ({origin}): Permission denied")


def test_runs_under_a_file(places):
    run = places["file"] / "run"
    assert_one_message(zoo("train", "--resume", str(run), env={}), str(run), "no such run directory")
    assert_one_message(zoo("predict", str(run), "hello", env={}), str(run), "no such run directory")


def test_spec(places):
    spec = places["hidden"] / "spec.yaml"
    assert_one_message(zoo("validate", str(spec), env={}), f"cannot use {spec} (the spec): Permission denied")
    assert_one_message(zoo("validate", str(places["file"] / "spec.yaml"), env={}), "no spec file")


@pytest.mark.parametrize("how", ["--source", "data.source"])
def test_data_source(places, how):
    source = places["hidden"] / "aclImdb"
    pick = ["--source", str(source)] if how == "--source" else ["--set", f"data.source={source}"]
    result = zoo("data", *pick, "--set", "data.dataset.valid_size=2", env={"ZOO_CACHE_DIR": str(places["cache"])})
    assert_one_message(result, f"cannot use {source} ({how}): Permission denied")
    under_file = zoo("data", "--source", str(places["file"] / "aclImdb"), env={"ZOO_CACHE_DIR": str(places["cache"])})
    assert_one_message(under_file, f"IMDB source {places['file'] / 'aclImdb'} (from data.source) does not exist")


def test_predict_input_and_output_files(places, tmp_path):
    from zoo.testing import smoke_train

    run = smoke_train("imdb-lstm", tmp_path / "smoke", ["model.embedding.dim=4", "model.encoder.hidden_size=4"],
                      per_label=8)["run_dir"]
    table = tmp_path / "in.csv"
    table.write_text("text\nhello there\n")
    for where, reason in [("file", f"{places['file']} is a file, not a folder"), ("locked", "Permission denied")]:
        out = places[where] / "out.csv"
        result = zoo("predict", run, "--input", str(table), "--output", str(out), env={})
        assert_one_message(result, f"cannot use {out} (--output): {reason}")
    missing = places["file"] / "in.csv"
    assert_one_message(zoo("predict", run, "--input", str(missing), "--output", str(tmp_path / "o.csv"), env={}),
                       str(missing))


def test_a_cache_whose_tilde_cannot_be_expanded(places):
    result = zoo("data", "--source", str(places["source"]), env={"ZOO_CACHE_DIR": "~no-such-user-zoo/cache"})
    assert_one_message(result, "cannot use ~no-such-user-zoo/cache (ZOO_CACHE_DIR): its '~' names no home directory")

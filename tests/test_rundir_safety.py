"""``--out`` and ``--force`` never touch files zoo did not write; a failed start can be retried."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plugin_packages import run_zoo
from zoo.errors import RunError
from zoo.rundir import RunDir
from zoo.testing import write_imdb_folder

TINY = ["--set", "data.dataset.valid_size=10", "--set", "train.epochs=1", "--set", "model.embedding.dim=4",
        "--set", "model.encoder.hidden_size=4", "--set", "model.head.hidden_sizes=[4]"]
RUN_JSON = {"zoo": "0.1.0", "torch": "2.13.0", "python": "3.11.7", "components": {}}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("data")
    source = write_imdb_folder(root, per_label=20)
    return {"ZOO_IMDB_SOURCE": str(source), "ZOO_CACHE_DIR": str(root / "cache")}


def a_run(folder: Path, *, trained: bool, finished: bool = False) -> Path:
    """A folder with exactly the files zoo writes (their content does not matter here)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("spec.yaml", "vocab.json"):
        (folder / name).write_text("{}")
    (folder / "run.json").write_text(json.dumps(RUN_JSON))  # what marks a folder as zoo's run
    if trained:
        (folder / "checkpoints").mkdir(exist_ok=True)
        (folder / "checkpoints" / "last.pt").write_bytes(b"x")
        (folder / "checkpoints" / ".best.pt.k2j3h4.tmp").write_bytes(b"x")  # a killed atomic write
    if finished:
        (folder / "summary.json").write_text("{}")
    return folder


def test_force_never_replaces_a_folder_holding_user_files(env, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("four years of work")
    result = run_zoo("train", "imdb-lstm", *TINY, "--out", str(folder), "--force", env=env)
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "holds files that zoo did not write (thesis.txt)" in message and "--force" not in message
    assert (folder / "thesis.txt").read_text() == "four years of work"


def test_force_never_replaces_the_current_folder(env, tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('hi')")
    result = run_zoo("train", "imdb-lstm", *TINY, "--out", ".", "--force", env=env, cwd=project)
    assert result.returncode == 2
    assert "holds files that zoo did not write (src/)" in result.stderr.decode()
    assert (project / "src" / "main.py").exists()


def test_a_user_file_inside_a_runs_own_folders_also_protects_it(tmp_path):
    run = a_run(tmp_path / "run", trained=True, finished=True)
    (run / "checkpoints" / "notes.md").write_text("mine")
    with pytest.raises(RunError, match=r"checkpoints/notes.md"):
        RunDir(run).check_new(force=True)


def test_a_symlink_is_refused_and_its_target_kept(tmp_path):
    target = a_run(tmp_path / "elsewhere", trained=True, finished=True)
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(RunError, match="is a symbolic link"):
        RunDir(link).check_new(force=True)
    assert (target / "checkpoints" / "last.pt").exists()


def test_a_symlinked_file_inside_a_run_is_not_zoos(tmp_path):
    run = a_run(tmp_path / "run", trained=True)
    (tmp_path / "precious").write_text("x")
    (run / "metrics.jsonl").symlink_to(tmp_path / "precious")
    with pytest.raises(RunError, match="metrics.jsonl"):
        RunDir(run).check_new(force=True)


def test_force_replaces_only_zoos_files_of_a_trained_run(tmp_path):
    run = a_run(tmp_path / "run", trained=True, finished=True)
    with pytest.raises(RunError, match="already holds a finished run.*--force"):
        RunDir(run).check_new(force=False)
    RunDir(run).check_new(force=True)
    RunDir(run).create(force=True)
    assert run.is_dir() and list(run.iterdir()) == []


def test_an_unfinished_run_asks_for_resume(tmp_path):
    run = a_run(tmp_path / "run", trained=True)
    with pytest.raises(RunError, match="unfinished run \\(continue it with --resume\\)"):
        RunDir(run).check_new(force=False)


def test_a_start_without_a_checkpoint_can_be_repeated(tmp_path):
    run = a_run(tmp_path / "run", trained=False)
    RunDir(run).check_new(force=False)  # nothing computed would be lost


def test_a_start_that_fails_before_training_leaves_nothing_and_can_be_retried(env, tmp_path):
    out = tmp_path / "run"
    failed = run_zoo("train", "imdb-lstm", *TINY, "--out", str(out), "--set", "data.source=/nowhere/aclImdb",
                     env=env)
    assert failed.returncode == 2 and "does not exist" in failed.stderr.decode()
    assert not out.exists()
    again = run_zoo("train", "imdb-lstm", *TINY, "--out", str(out), "--json", env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert json.loads(again.stdout)["epochs_run"] == 1


def test_files_written_by_zoo_are_recognised(tmp_path):
    run = a_run(tmp_path / "run", trained=True, finished=True)
    (run / "metrics.jsonl").write_text("")
    (run / "curves.png").write_bytes(b"")
    (run / "tensorboard").mkdir()
    (run / "tensorboard" / f"events.out.tfevents.1.host.{os.getpid()}.0").write_bytes(b"")
    assert RunDir(run).foreign_entries() == []


def test_a_users_folder_with_files_named_like_zoos_is_not_a_run(env, tmp_path):
    """A project folder holding its own README.md and spec.yaml (but no run.json of zoo's) is
    a user's, not a run that never finished an epoch: zoo must not replace them, --force or not."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "README.md").write_text("# my notes")
    (folder / "spec.yaml").write_text("name: mine\n")
    for force in ([], ["--force"]):
        result = run_zoo("train", "imdb-lstm", *TINY, "--out", str(folder), *force, env=env)
        assert result.returncode == 2, result.stderr.decode()
        assert "holds files that zoo did not write (README.md, spec.yaml; it has no run.json" in result.stderr.decode()
        assert (folder / "README.md").read_text() == "# my notes"
        assert (folder / "spec.yaml").read_text() == "name: mine\n"
        assert sorted(p.name for p in folder.iterdir()) == ["README.md", "spec.yaml"]


def test_a_run_json_that_is_not_zoos_does_not_make_a_run(tmp_path):
    run = a_run(tmp_path / "run", trained=False)
    (run / "run.json").write_text('{"mine": true}')
    assert RunDir(run).foreign_entries() == ["run.json", "spec.yaml", "vocab.json"]
    with pytest.raises(RunError, match="it has no run.json of zoo's"):
        RunDir(run).check_new(force=True)


def test_a_second_training_into_a_folder_being_trained_is_refused(env, tmp_path):
    """Two ``zoo train --out DIR`` at once interleaved their metrics, spec and checkpoints into
    one folder and both exited 0; the folder is now held by the process training into it."""
    out = tmp_path / "run"
    first = run_zoo("train", "imdb-lstm", *TINY, "--out", str(out), env=env)
    assert first.returncode == 0, first.stderr.decode()
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    holder = RunDir(out)
    holder.lock()  # as a training process holds it
    try:
        for args in (["--out", str(out), "--force"], ["--resume", str(out), "--set", "train.epochs=2"]):
            spec = [] if "--resume" in args else ["imdb-lstm", *TINY]
            result = run_zoo("train", *spec, *args, env=env)
            assert result.returncode == 2, result.stderr.decode()
            assert "is being trained by another zoo process right now" in result.stderr.decode()
            assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    finally:
        holder.unlock()
    again = run_zoo("train", "--resume", str(out), "--set", "train.epochs=2", env=env)
    assert again.returncode == 0, again.stderr.decode()  # the lock goes with its holder


def test_resume_refuses_the_arguments_it_would_ignore(tmp_path):
    """``zoo train big.yaml --resume RUN --out other`` resumed RUN on its own spec, silently
    ignoring the spec and --out the user had named."""
    run = a_run(tmp_path / "run", trained=True)
    before = sorted(p.name for p in run.rglob("*"))
    for extra, named in ((["mine.yaml"], "a SPEC"), (["--out", str(tmp_path / "other")], "--out"),
                         (["--force"], "--force")):
        result = run_zoo("train", *extra, "--resume", str(run))
        assert result.returncode == 2
        assert f"--resume continues {run} in its own folder with its own spec; {named} cannot go with it" \
            in result.stderr.decode()
    assert sorted(p.name for p in run.rglob("*")) == before and not (tmp_path / "other").exists()


def test_resuming_a_run_whose_last_checkpoint_is_gone_is_refused(env, tmp_path):
    """Without ``last.safetensors`` a resume started again from epoch 1 and replaced the run's
    best checkpoint and metrics without a word (a run shared with its best weights alone)."""
    out = tmp_path / "run"
    assert run_zoo("train", "imdb-lstm", *TINY, "--out", str(out), env=env).returncode == 0
    (out / "checkpoints" / "last.safetensors").unlink()
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = run_zoo("train", "--resume", str(out), "--set", "train.epochs=2", env=env)
    assert result.returncode == 2
    assert (f"{out} records finished epochs but has no checkpoints/last.safetensors, the training state a "
            "resume continues from") in result.stderr.decode()
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before

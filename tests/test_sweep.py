"""zoo sweep as a user runs it: trials, pruning, kill and resume, two workers, the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from plugin_packages import run_zoo

from zoo.cli import main
from zoo.testing import write_imdb_folder

pytest.importorskip("optuna")

SPEC = {
    "name": "tiny",
    "data": {"dataset": {"type": "imdb", "valid_size": 20}},
    "model": {"embedding": {"dim": 8}, "encoder": {"type": "lstm", "hidden_size": 8}, "head": "linear"},
    "train": {"epochs": 3, "batch_size": 16, "threads": 1, "cpu_shards": 1},
}
SPACE = {
    "metric": "valid_accuracy",
    "sampler": "random",
    "pruner": "none",
    "seed": 7,
    "params": {
        "model.encoder.hidden_size": {"int": [4, 16], "log": True},
        "train.optimizer.lr": {"float": [1.0e-3, 3.0e-2], "log": True},
        "model.head": {"choice": ["linear", {"type": "mlp", "hidden_sizes": [8]}]},
    },
}

# SIGKILLs the process at the second epoch of trial 1, as a crash or `kill -9` would
KILLER = '''
import os, signal
from zoo import hookimpl

@hookimpl
def on_epoch_end(run, epoch, metrics):
    if run.dir.name == "0001" and epoch == 2:
        os.kill(os.getpid(), signal.SIGKILL)
'''

# Ctrl-C at the second epoch of trial 1
INTERRUPTER = KILLER.replace("os.kill(os.getpid(), signal.SIGKILL)", "raise KeyboardInterrupt")


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """Made-up reviews, a private cache, and the plugins above importable by name (``ZOO_PLUGINS``)."""
    root = tmp_path_factory.mktemp("sweep-data")
    for name, code in {"killer": KILLER, "interrupter": INTERRUPTER}.items():
        (root / f"{name}.py").write_text(code)
    return {"ZOO_IMDB_SOURCE": str(write_imdb_folder(root, per_label=40)), "ZOO_CACHE_DIR": str(root / "cache"),
            "PYTHONPATH": str(root)}


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def zoo(env, monkeypatch, capsys):
    """``zoo ARGS...`` in this process (zoo.cli.main): ``(status, stdout, stderr)``."""
    for key, value in env.items():
        if key.startswith("ZOO_"):
            monkeypatch.setenv(key, value)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def files(tmp_path: Path, space: dict | None = None) -> list[str]:
    """The spec and space files of a sweep, as ``SPEC --space SPACE`` arguments."""
    spec = write(tmp_path / "spec.yaml", SPEC)
    return [str(spec), "--space", str(write(tmp_path / "space.yaml", space or SPACE))]


def shown(zoo, folder: Path) -> dict:
    status, out, err = zoo("sweep", "--show", folder, "--json")
    assert status == 0, err
    return json.loads(out)


def test_a_sweep_of_three_trials_gives_run_directories_a_table_and_a_best_spec_that_trains(zoo, tmp_path):
    out = tmp_path / "sweep"
    status, stdout, stderr = zoo("sweep", *files(tmp_path), "--trials", "3", "--out", out, "--json")
    assert status == 0, stderr
    report = json.loads(stdout)
    assert report["trials_counted"] == 3 and [t["state"] for t in report["trials"]] == ["complete"] * 3
    for trial in report["trials"]:
        run = out / "trials" / f"{trial['number']:04d}"
        assert trial["run_dir"] == str(run.resolve())
        summary = json.loads((run / "summary.json").read_text())
        assert trial["value"] == summary["best_valid"] and summary["monitor"] == "valid_accuracy"
        spec = yaml.safe_load((run / "spec.yaml").read_text())
        params = trial["params"]
        assert spec["model"]["encoder"]["hidden_size"] == params["model.encoder.hidden_size"]
        assert spec["train"]["optimizer"]["lr"] == params["train.optimizer.lr"]
        assert spec["model"]["head"]["type"] == (params["model.head"] if isinstance(params["model.head"], str)
                                                 else params["model.head"]["type"])
        assert 4 <= params["model.encoder.hidden_size"] <= 16 and 1e-3 <= params["train.optimizer.lr"] <= 3e-2
    best = max(report["trials"], key=lambda t: t["value"])
    assert report["best"]["number"] == best["number"] and report["best"]["spec"] == str(out / "best.yaml")
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["history.png", "importances.png", "parallel.png"]
    assert "zoo train" in (out / "best.yaml").read_text().splitlines()[1]

    status, stdout, stderr = zoo("train", out / "best.yaml", "--out", tmp_path / "again", "--json")
    assert status == 0, stderr
    assert json.loads(stdout)["best_valid"] == best["value"]  # the same spec and seed, the same run
    status, stdout, _ = zoo("sweep", "--show", out)
    assert status == 0 and f"best: trial {best['number']}" in stdout
    assert zoo("evaluate", best["run_dir"])[0] == 0  # a trial is an ordinary run


def test_a_hopeless_trial_is_pruned_and_its_run_kept(zoo, tmp_path):
    # Two sweep folders share one study through a journal file (as two machines share a database):
    # the first completes a trial that learns, the second's trial cannot learn (a tiny learning
    # rate, same initial weights) and its validation loss is worse from the first epoch on.
    storage = tmp_path / "shared.journal"
    learning = {"metric": "valid_loss", "sampler": "random", "pruner": {"type": "median", "startup_trials": 1},
                "params": {"train.optimizer.lr": {"float": [0.03, 0.03]}}}
    hopeless = {**learning, "params": {"train.optimizer.lr": {"float": [1.0e-7, 1.0e-7]}}}
    common = ["--storage", storage, "--study", "shared", "--set", "train.epochs=4"]
    status, _, stderr = zoo("sweep", *files(tmp_path, learning), "--trials", "1", "--out", tmp_path / "a", *common)
    assert status == 0, stderr
    status, _, stderr = zoo("sweep", *files(tmp_path, hopeless), "--trials", "2", "--out", tmp_path / "b", *common)
    assert status == 0, stderr
    assert "trial 1: pruned after epoch 1" in stderr
    report = shown(zoo, tmp_path / "b")
    assert [(t["number"], t["state"], t["epochs"]) for t in report["trials"]] == [(0, "complete", 4), (1, "pruned", 1)]
    summary = json.loads((tmp_path / "b" / "trials" / "0001" / "summary.json").read_text())
    assert summary["stopped_early"] and summary["epochs_run"] == 1
    assert summary["stop_reason"].startswith("trial 1 pruned by the sweep (valid_loss")
    assert report["best"]["number"] == 0 and not (tmp_path / "b" / "trials" / "0000").exists()


def test_a_sweep_killed_mid_trial_resumes_retrying_that_trial_and_keeping_the_others(env, zoo, tmp_path):
    out = tmp_path / "sweep"
    killed = run_zoo("sweep", *files(tmp_path), "--trials", "3", "--out", str(out),
                     env={**env, "ZOO_PLUGINS": "killer"})
    assert killed.returncode == -9
    before = shown(zoo, out)
    assert [(t["number"], t["state"]) for t in before["trials"]] == [(0, "complete"), (1, "dead")]
    first = (out / "trials" / "0000" / "summary.json").stat().st_mtime_ns
    assert not (out / "trials" / "0001" / "summary.json").exists()

    status, stdout, stderr = zoo("sweep", "--resume", out, "--json")
    assert status == 0, stderr
    assert "trial 1 was left running by a worker that stopped" in stderr
    report = json.loads(stdout)
    states = {t["number"]: t for t in report["trials"]}
    assert [(n, t["state"]) for n, t in states.items()] == [(0, "complete"), (1, "fail"), (2, "complete"),
                                                            (3, "complete")]
    assert states[2]["params"] == states[1]["params"] and "retries trial 1" in states[2]["note"]
    assert "retried as trial 2" in states[1]["note"] and report["trials_counted"] == 3
    assert (out / "trials" / "0000" / "summary.json").stat().st_mtime_ns == first  # not trained again
    # the retry went on from the killed run's last checkpoint (epoch 2) in its run directory
    assert states[2]["run_dir"] == states[1]["run_dir"] and not (out / "trials" / "0002").exists()
    summary = json.loads((out / "trials" / "0001" / "summary.json").read_text())
    assert summary["epochs_run"] == 3 and summary["best_valid"] == states[2]["value"] and states[2]["epochs"] == 3
    assert "continuing" in stderr and "epoch 3/3" in stderr and "epoch 1/3" not in stderr.split("trial 2:")[1]


def test_an_interrupted_sweep_records_the_trial_and_runs_it_again_on_resume(env, zoo, tmp_path):
    out = tmp_path / "sweep"
    interrupted = run_zoo("sweep", *files(tmp_path), "--trials", "2", "--out", str(out),
                          env={**env, "ZOO_PLUGINS": "interrupter"})
    assert interrupted.returncode == 130
    assert f"interrupted; the trial will run again with: zoo sweep --resume {out}" in interrupted.stderr.decode()
    trials = shown(zoo, out)["trials"]
    assert [(t["number"], t["state"], t["note"]) for t in trials] == [
        (0, "complete", ""), (1, "fail", "interrupted; retried as trial 2"),
        (2, "waiting", "retries trial 1 (interrupted)")]
    status, stdout, stderr = zoo("sweep", "--resume", out, "--json")
    assert status == 0, stderr
    report = json.loads(stdout)
    assert [t["state"] for t in report["trials"]] == ["complete", "fail", "complete"]
    assert report["trials"][2]["params"] == trials[1]["params"] and report["trials_counted"] == 2
    assert report["trials"][2]["run_dir"] == str((out / "trials" / "0001").resolve())


def test_two_workers_on_one_study_run_each_trial_once_and_lose_nothing(env, zoo, tmp_path):
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "zoo", "sweep", *files(tmp_path), "--trials", "5",
               "--out", str(out), "--set", "train.epochs=6"]
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}, **env}
    workers = [subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(2)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    report = shown(zoo, out)
    trials = report["trials"]
    assert report["trials_counted"] == 5 and len(trials) == 5 and all(t["state"] == "complete" for t in trials)
    assert len({t["number"] for t in trials}) == 5
    assert sorted(p.name for p in (out / "trials").iterdir()) == [f"{t['number']:04d}" for t in trials]
    for trial in trials:
        summary = json.loads((Path(trial["run_dir"]) / "summary.json").read_text())
        assert summary["best_valid"] == trial["value"]
    runs = [err.decode().count("valid_accuracy ") for _, err in outputs]
    assert sum(runs) == 5 and min(runs) >= 1, runs  # both worked, together exactly five trials


def test_a_second_sweep_into_the_same_folder_must_be_the_same_sweep(zoo, tmp_path):
    out = tmp_path / "sweep"
    assert zoo("sweep", *files(tmp_path), "--trials", "1", "--out", out, "--set", "train.epochs=1")[0] == 0
    status, _, stderr = zoo("sweep", *files(tmp_path), "--trials", "1", "--out", out)
    assert status == 2
    assert f"{out} holds another sweep: the spec (with its --set overrides) differ" in stderr
    assert len(shown(zoo, out)["trials"]) == 1


def test_a_sweep_whose_every_trial_failed_exits_non_zero_saying_there_is_no_best_spec(zoo, tmp_path):
    """``zoo sweep ... && zoo train DIR/best.yaml`` must stop at the sweep, not at a missing file."""
    space = {"sampler": "random", "pruner": "none", "params": {"train.optimizer.lr": {"choice": [1.0e30]},
                                                               "model.head": {"choice": ["mlp"]}}}  # diverges
    out = tmp_path / "sweep"
    args = [*files(tmp_path, space), "--trials", "1", "--out", out, "--set", "train.optimizer.name=sgd"]
    status, _, stderr = zoo("sweep", *args)
    assert status == 2 and "no trial of the sweep in" in stderr and "so there is no best.yaml" in stderr
    assert not (out / "best.yaml").exists()
    assert shown(zoo, out)["best"] is None  # reporting it is no failure

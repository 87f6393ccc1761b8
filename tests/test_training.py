"""Training, resuming, evaluating and predicting through the CLI, on small made-up data."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from plugin_packages import run_zoo
from zoo.testing import NEGATIVE_WORDS, POSITIVE_WORDS, write_imdb_folder

SMALL = [
    "--set", "data.dataset.valid_size=60",
    "--set", "train.epochs=4",
    "--set", "train.batch_size=16",
    "--set", "train.optimizer.lr=0.01",
    "--set", "model.embedding.dim=8",
    "--set", "model.encoder.hidden_size=16",
    "--set", "model.head.hidden_sizes=[16]",
]

KILLER = '''
import os, signal
from zoo import hookimpl

@hookimpl
def on_epoch_end(run, epoch, metrics):
    if epoch == int(os.environ["KILL_AT_EPOCH"]):
        os.kill(os.getpid(), getattr(signal, os.environ["KILL_SIGNAL"]))
'''

FAILING_LOGGER = '''
from zoo import hookimpl

@hookimpl
def on_epoch_end(run, epoch, metrics):
    if epoch == 2:
        raise RuntimeError("disk quota exceeded")
'''


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("data")
    source = write_imdb_folder(root, per_label=120)
    (root / "killer.py").write_text(KILLER)
    (root / "failing_logger.py").write_text(FAILING_LOGGER)
    return {"ZOO_IMDB_SOURCE": str(source), "ZOO_CACHE_DIR": str(root / "cache"), "PYTHONPATH": str(root)}


def train(env, out: Path, *extra: str, extra_env: dict | None = None):
    return run_zoo("train", "imdb-lstm", *SMALL, "--out", str(out), *extra, env={**env, **(extra_env or {})})


def metrics(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:  # wall-clock figures differ from run to run
        for key in ("seconds", "train_seconds", "train_tokens_per_second"):
            record.pop(key)
    return records


@pytest.fixture(scope="module")
def finished_run(env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "reference"
    result = train(env, out)
    assert result.returncode == 0, result.stderr.decode()
    assert "test accuracy" in result.stdout.decode()
    return out


def test_a_run_directory_holds_everything_to_use_and_reproduce_it(finished_run):
    names = {str(p.relative_to(finished_run)) for p in finished_run.rglob("*") if p.is_file()}
    assert names == {"spec.yaml", "run.json", "vocab.json", "metrics.jsonl", "summary.json", "curves.png",
                     "confusion.png", "README.md", "checkpoints/best.safetensors", "checkpoints/last.safetensors"}
    run_info = json.loads((finished_run / "run.json").read_text())
    assert run_info["components"]["encoder/lstm"] == {"plugin": "builtin-encoders", "distribution": "rnn-zoo",
                                                     "version": run_info["zoo"]}
    assert "torch" in run_info
    summary = json.loads((finished_run / "summary.json").read_text())
    records = metrics(finished_run)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert summary["epochs_run"] == 4
    best = max(records, key=lambda r: r["valid_accuracy"])
    assert summary["best_epoch"] == best["epoch"]
    assert summary["test"]["accuracy"] > 0.8  # the made-up task is learnable
    assert (finished_run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (finished_run / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_spec_and_seed_give_the_same_metrics(env, finished_run, tmp_path):
    again = tmp_path / "again"
    assert train(env, again).returncode == 0
    assert metrics(again) == metrics(finished_run)
    first = json.loads((finished_run / "summary.json").read_text())["test"]
    assert json.loads((again / "summary.json").read_text())["test"] == first


@pytest.mark.parametrize("signal_name, status", [("SIGKILL", -9), ("SIGINT", 130)])
def test_a_killed_run_resumes_to_the_same_result(env, finished_run, tmp_path, signal_name, status):
    out = tmp_path / "killed"
    killed = train(env, out, extra_env={"ZOO_PLUGINS": "killer", "KILL_AT_EPOCH": "2", "KILL_SIGNAL": signal_name})
    assert killed.returncode == status
    assert not (out / "summary.json").exists()
    if signal_name == "SIGINT":
        assert f"zoo train --resume {out}" in killed.stderr.decode()
    resumed = run_zoo("train", "--resume", str(out), env=env)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert "resuming" in resumed.stderr.decode()
    assert metrics(out) == metrics(finished_run)
    reference = json.loads((finished_run / "summary.json").read_text())
    assert json.loads((out / "summary.json").read_text())["test"] == reference["test"]


def test_a_finished_run_is_not_overwritten_without_force(env, finished_run, tmp_path):
    result = run_zoo("train", "imdb-lstm", "--out", str(finished_run), env=env)
    assert result.returncode == 2
    assert "already holds a finished run" in result.stderr.decode()
    again = run_zoo("train", "--resume", str(finished_run), env=env).stderr.decode()
    assert "finished run of 4 epochs; nothing to resume" in again and "--set train.epochs=N (N > 4)" in again


def test_a_plugin_failing_in_a_lifecycle_hook_stops_the_run_cleanly(env, finished_run, tmp_path):
    out = tmp_path / "hooked"
    result = train(env, out, extra_env={"ZOO_PLUGINS": "failing_logger"})
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "plugin failing_logger failed in on_epoch_end: RuntimeError: disk quota exceeded" in stderr
    assert "Traceback" not in stderr
    resumed = run_zoo("train", "--resume", str(out), env=env)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert metrics(out) == metrics(finished_run)


def test_a_diverging_loss_stops_with_a_clear_message(env, tmp_path):
    out = tmp_path / "nan"
    result = train(env, out, "--set", "train.optimizer={name: sgd, lr: 1.0e+30}")
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "the training loss became" in stderr and "lower train.optimizer.lr" in stderr


def test_divergence_after_a_good_epoch_keeps_that_epochs_checkpoint(env, tmp_path):
    out = tmp_path / "diverging"
    # SGD whose learning rate is multiplied by 1e30 after the first epoch
    result = train(env, out, "--set", "train.optimizer={name: sgd, lr: 0.01}",
                   "--set", "train.scheduler={name: step, step_size: 1, gamma: 1.0e+30}")
    assert result.returncode == 2
    assert "the last good checkpoint (epoch 1)" in result.stderr.decode()
    from zoo.rundir import RunDir

    state = RunDir(out).load_checkpoint(RunDir(out).last)
    assert state.epoch == 1 and all(torch.isfinite(v).all() for v in state.model.values())


def test_evaluate_reports_every_metric(env, finished_run):
    result = run_zoo("evaluate", str(finished_run), "--json", env=env)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert set(report) >= {"accuracy", "precision", "recall", "f1", "roc_auc", "confusion", "loss"}
    summary = json.loads((finished_run / "summary.json").read_text())
    assert report["accuracy"] == pytest.approx(summary["test"]["accuracy"])
    assert sum(map(sum, report["confusion"])) == report["count"] == 240
    table = run_zoo("evaluate", str(finished_run), "--split", "valid", env=env)
    assert "confusion" in table.stdout.decode() and "(60 texts)" in table.stdout.decode()


def test_predict_answers_every_kind_of_text(env, finished_run):
    texts = [" ".join(POSITIVE_WORDS[:3]), " ".join(NEGATIVE_WORDS[:3]), "", "   ",
             "qqq zzz xxyy", "Ça m'a ému 😀 \u0007"]
    result = run_zoo("predict", str(finished_run), *texts, "--json", env=env)
    assert result.returncode == 0, result.stderr.decode()
    answers = json.loads(result.stdout)
    assert len(answers) == len(texts)
    assert [a["label"] for a in answers[:2]] == ["pos", "neg"]
    assert all(0.5 <= a["probability"] <= 1.0 for a in answers)
    million = ("x" * 9 + " ") * 100_000  # a million characters, too long for an argument: stdin
    long = run_zoo("predict", str(finished_run), "-", "--json", env=env, stdin=million + "\n")
    assert long.returncode == 0, long.stderr.decode()
    assert json.loads(long.stdout)["label"] in ("pos", "neg")  # one JSON line per stdin line
    assert "line 1 is longer than 100,000 characters (--max-chars); only its first 100,000 are used" in long.stderr.decode()


def test_predict_reads_stdin_and_answers_bad_lines_with_an_error(env, finished_run):
    stdin = f"ta {POSITIVE_WORDS[0]} lo\n".encode() + b"\xff\xfe broken\n\n" + f"ta {NEGATIVE_WORDS[0]}\n".encode()
    result = run_zoo("predict", str(finished_run), "-", "--json", env=env, stdin=stdin)
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]  # JSON Lines
    assert [a.get("label") for a in answers] == ["pos", None, answers[2]["label"], "neg"]
    assert answers[1]["error"].startswith("line 2: not UTF-8")
    assert result.returncode == 1  # some line could not be answered


def test_load_predict_from_python(env, finished_run, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    import zoo

    classifier = zoo.load(finished_run)
    [good, bad] = classifier.predict([" ".join(POSITIVE_WORDS[3:5]), " ".join(NEGATIVE_WORDS[3:5])])
    assert good["label"] == "pos" and bad["label"] == "neg"
    assert classifier.predict([]) == []


def test_a_checkpoint_crafted_to_run_code_is_refused(tmp_path, finished_run):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    crafted = tmp_path / "run"
    for name in ("spec.yaml", "run.json", "vocab.json"):
        (crafted / name).parent.mkdir(parents=True, exist_ok=True)
        (crafted / name).write_bytes((finished_run / name).read_bytes())
    (crafted / "checkpoints").mkdir()
    (crafted / "checkpoints" / "best.pt").write_bytes(pickle.dumps({"model": Exploit()}))
    result = run_zoo("predict", str(crafted), "hello")
    assert result.returncode == 2
    assert "not a loadable zoo checkpoint" in result.stderr.decode()
    assert not marker.exists()


def test_a_run_whose_plugin_is_gone_names_it(tmp_path, finished_run):
    run = tmp_path / "run"
    run.mkdir()
    spec = (finished_run / "spec.yaml").read_text().replace("type: lstm", "type: cnn")
    (run / "spec.yaml").write_text(spec)
    info = json.loads((finished_run / "run.json").read_text())
    info["components"]["encoder/cnn"] = {"plugin": "cnn", "distribution": "zoo-cnn", "version": "0.3"}
    (run / "run.json").write_text(json.dumps(info))
    result = run_zoo("predict", str(run), "hello")
    assert result.returncode == 2
    assert "encoder 'cnn' from plugin cnn (distribution zoo-cnn 0.3), which is not installed" in result.stderr.decode()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU machine)")
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_a_cuda_run_with_dropout_resumes_exactly(env, tmp_path, precision):
    """The CUDA generator (dropout) and the fp16 loss scale are checkpointed with the rest."""
    cuda = ["--set", "train.device=cuda", "--set", f"train.precision={precision}",
            "--set", "model.embedding.dropout=0.3"]
    whole = tmp_path / "whole"
    assert train(env, whole, *cuda).returncode == 0
    killed = tmp_path / "killed"
    assert train(env, killed, *cuda, extra_env={"ZOO_PLUGINS": "killer", "KILL_AT_EPOCH": "2",
                                                "KILL_SIGNAL": "SIGKILL"}).returncode == -9
    assert run_zoo("train", "--resume", str(killed), env=env).returncode == 0
    assert metrics(killed) == metrics(whole)


def test_the_loss_scale_and_every_generator_are_checkpointed(env, finished_run):
    from zoo.rundir import RunDir

    state = RunDir(finished_run).load_checkpoint(RunDir(finished_run).last)
    assert state.scaler is None  # None unless train.precision is fp16
    [rank0] = state.rng  # one entry per process
    assert isinstance(rank0.cpu, torch.Tensor) and rank0.cuda is None
    assert state.to_task().to_dict() == {"type": "binary", "labels": ["neg", "pos"]}


def test_evaluate_and_predict_an_fp16_run_on_the_cpu(env, finished_run, tmp_path):
    """A run trained in fp16 (CUDA only) is evaluated and used on a machine without CUDA."""
    import shutil

    import yaml

    run = tmp_path / "fp16"
    shutil.copytree(finished_run, run)
    spec = yaml.safe_load((run / "spec.yaml").read_text())
    spec["train"]["precision"] = "fp16"
    (run / "spec.yaml").write_text(yaml.safe_dump(spec))
    evaluated = run_zoo("evaluate", str(run), "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr.decode()
    reference = json.loads((finished_run / "summary.json").read_text())["test"]
    assert json.loads(evaluated.stdout)["accuracy"] == reference["accuracy"]
    assert run_zoo("predict", str(run), "zapfy glonk", "--device", "cpu", env=env).returncode == 0
    no_cuda = run_zoo("predict", str(run), "zapfy", "--device", "cuda", env={**env, "CUDA_VISIBLE_DEVICES": ""})
    assert no_cuda.returncode == 2 and "no CUDA device is available" in no_cuda.stderr.decode()


def test_a_finished_run_extended_equals_a_longer_run(env, finished_run, tmp_path):
    import shutil

    extended = tmp_path / "extended"
    shutil.copytree(finished_run, extended)
    result = run_zoo("train", "--resume", str(extended), "--set", "train.epochs=6", "--json", env=env)
    assert result.returncode == 0, result.stderr.decode()
    longer = tmp_path / "longer"
    assert train(env, longer, "--set", "train.epochs=6").returncode == 0
    assert metrics(extended) == metrics(longer)
    assert json.loads(result.stdout)["test"] == json.loads((longer / "summary.json").read_text())["test"]
    assert "epochs: 6" in (extended / "spec.yaml").read_text()


def test_a_resume_may_not_change_what_was_computed(env, finished_run):
    result = run_zoo("train", "--resume", str(finished_run), "--set", "train.optimizer.lr=0.5",
                     "--set", "model.encoder.hidden_size=8", "--set", "train.epochs=9", env=env)
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "--set cannot change model.encoder.hidden_size, train.optimizer.lr" in message
    assert "A resume may change: train.epochs, train.early_stopping" in message


def test_a_cosine_schedule_cannot_be_extended(env, tmp_path):
    out = tmp_path / "cosine"
    assert train(env, out, "--set", "train.epochs=1", "--set", "train.scheduler={name: cosine}").returncode == 0
    result = run_zoo("train", "--resume", str(out), "--set", "train.epochs=3", env=env)
    assert result.returncode == 2
    assert "cosine learning-rate schedule over train.epochs=1" in result.stderr.decode()

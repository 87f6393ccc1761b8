"""Every mistake in a space file (or in the sweep's options) is one line naming it, before any trial."""

from __future__ import annotations

import sys

import pytest
import yaml

from zoo.cli import main

pytest.importorskip("optuna")

SPEC = {"name": "tiny", "data": {"source": "/nonexistent/aclImdb"}, "model": {"encoder": {"type": "lstm"}}}
GOOD = {"params": {"model.encoder.hidden_size": {"int": [8, 32]}}}


def param(**distribution) -> dict:
    return {"params": {"model.encoder.hidden_size": distribution}}


# (space file content, what the single error line says)
CASES = {
    "not a mapping": ("- a\n- b\n", "a space file is a mapping with params:"),
    "malformed YAML": ("params: {a: [1, 2}\n", "line 1, column 18: malformed YAML"),
    "unknown top-level field": ({**GOOD, "metrc": "valid_loss"}, "metrc: unknown field; valid fields: metric,"),
    "unknown metric": ({**GOOD, "metric": "test_accuracy"},
                       "metric 'test_accuracy' is not one the trainer records; use one of valid_accuracy, valid_loss"),
    "unknown sampler": ({**GOOD, "sampler": "cmaes"},
                        "sampler: Input should be 'tpe', 'random' or 'grid' (got 'cmaes')"),
    "unknown pruner": ({**GOOD, "pruner": "patient"}, "pruner.type: Input should be 'median', 'hyperband' or 'none'"),
    "no params": ({"metric": "valid_loss"}, "params: Field required"),
    "empty params": ({"params": {}}, "params: Dictionary should have at least 1 item"),
    "two distributions": (param(int=[1, 2], choice=[1]), "params: model.encoder.hidden_size: give exactly one of"),
    "no distribution": (param(log=True), "params: model.encoder.hidden_size: give exactly one of choice"),
    "unknown distribution field": (param(int=[1, 2], lo=1),
                                   "params: model.encoder.hidden_size.lo: unknown field; a parameter takes choice"),
    "reversed range": (param(int=[32, 8]), "range [32, 8] is empty: its low end is above its high end"),
    "log from zero": ({"params": {"model.embedding.dropout": {"float": [0.0, 0.5], "log": True}}},
                      "params: model.embedding.dropout: log: true needs a range above zero (got [0.0, 0.5])"),
    "log and step": (param(int=[8, 32], log=True, step=2), "give log or step, not both"),
    "fractional int step": (param(int=[8, 32], step=2.5), "an int range needs a whole step (got 2.5)"),
    "float step not dividing": ({"params": {"train.optimizer.lr": {"float": [0.1, 0.35], "step": 0.1}}},
                                "step 0.1 does not divide the range [0.1, 0.35]"),
    "float ends for an int range": (param(int=[8.5, 32]), "got a number with a fractional part"),
    "log on a choice": (param(choice=[8, 16], log=True), "log and step apply to int and float ranges"),
    "empty choice": (param(choice=[]), "params: model.encoder.hidden_size.choice: List should have at least 1 item"),
    "repeated choice": (param(choice=[8, 8]), "choice lists a value twice: [8, 8]"),
    "grid of a continuous range": ({"sampler": "grid", "params": {"train.optimizer.lr": {"float": [0.1, 1.0]}}},
                                   "params: train.optimizer.lr: the grid sampler needs a choice"),
    "misspelt path": ({"params": {"model.encoder.hiden_size": {"int": [8, 32]}}},
                      "params: model.encoder.hiden_size: unknown field; did you mean 'hidden_size'?"),
    "misspelt section": ({"params": {"modle.encoder.hidden_size": {"int": [8, 32]}}},
                         "params: modle.encoder.hidden_size: modle: unknown field; did you mean 'model'?"),
    "infinite float end": ({"params": {"train.optimizer.lr": {"float": [0.001, float("inf")]}}},
                           "params: train.optimizer.lr.float.1: Input should be a finite number"),
    "infinite step": ({"params": {"model.embedding.dropout": {"float": [0.0, 0.5], "step": float("inf")}}},
                      "params: model.embedding.dropout.step: Input should be a finite number"),
    "a boolean for an int end": (param(int=[True, 32]),
                                 "params: model.encoder.hidden_size.int.0: Input should be a valid integer"),
    "invalid low end": (param(int=[0, 32]),
                        "params: model.encoder.hidden_size: Input should be greater than 0 (got 0)"),
    "invalid high end": (param(int=[8, 100_000]),
                         "params: model.encoder.hidden_size: Input should be less than or equal to 65536 (got 100000)"),
    "invalid choice": ({"params": {"model.encoder.pooling": {"choice": ["last", "first"]}}},
                       "params: model.encoder.pooling: Input should be 'last', 'mean' or 'max' (got 'first')"),
    "unknown component": ({"params": {"model.encoder.type": {"choice": ["lstm", "transformer"]}}},
                          'params: model.encoder.type: "transformer" makes the spec invalid: '
                          "model.encoder: unknown encoder"),
    "through a value": ({"params": {"train.epochs.count": {"int": [1, 2]}}},
                        "params: train.epochs.count: 1 makes the spec invalid: train.epochs: is 10, not a section"),
    "the metric's own field": ({"params": {"train.monitor": {"choice": ["valid_loss"]}}},
                               "params: train.monitor: is set by the sweep (to the space's metric); remove it"),
    # each fine alone with the spec's rnn encoder; the last values together ask relu of an lstm
    "parameters that clash": ({"params": {"model.encoder.type": {"choice": ["rnn", "lstm"]},
                                          "model.encoder.nonlinearity": {"choice": ["tanh", "relu"]}}},
                              'params: every parameter at its last value (model.encoder.type="lstm", '
                              'model.encoder.nonlinearity="relu") gives an invalid spec: model.encoder.nonlinearity: '
                              "unknown field"),
}
RNN_CASES = {"parameters that clash"}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_space_file_is_one_line_naming_the_fault_and_nothing_is_created(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    content, expected = CASES[case]
    space = tmp_path / "space.yaml"
    space.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    spec = {**SPEC, "model": {"encoder": {"type": "rnn"}}} if case in RNN_CASES else SPEC
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    status = main(["sweep", "spec.yaml", "--space", "space.yaml", "--trials", "2", "--out", "sweep"])
    error = capsys.readouterr().err
    assert status == 2
    lines = error.strip().splitlines()
    assert len(lines) == 1, error
    assert lines[0].startswith("error: invalid search space space.yaml: ") and expected in lines[0], lines[0]
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (["spec.yaml", "--trials", "2"], "zoo sweep needs --space SPACE.yaml"),
    (["spec.yaml", "--space", "space.yaml"], "zoo sweep needs --trials N"),
    (["spec.yaml", "--space", "missing.yaml", "--trials", "2"], "invalid search space missing.yaml: no such file"),
    (["spec.yaml", "--resume", "sweep", "--space", "space.yaml"],
     "--resume sweep uses the sweep recorded there; drop SPEC (spec.yaml), --space"),
    (["--show", "nowhere"], "nowhere is not a zoo sweep folder (no sweep.json)"),
    (["--show", "nowhere", "--trials", "3"], "--show only reports; --trials and --timeout go with a sweep that runs"),
    (["--resume", "a", "--show", "b"], "give --resume DIR or --show DIR, not both"),
    (["spec.yaml", "--space", "space.yaml", "--trials", "2", "--out", "taken"], "taken holds files but no sweep.json"),
    (["spec.yaml", "--space", "space.yaml", "--trials", "2", "--out", "taken/notes.txt"],
     "taken/notes.txt is a file, not a folder"),
    (["spec.yaml", "--space", "space.yaml", "--trials", "2", "--storage", "nowhere/study.journal"],
     "nowhere/study.journal: the folder /"),
    (["spec.yaml", "--space", "space.yaml", "--trials", "2", "--storage", "nosuchdb://user:secret@host/db"],
     "--storage nosuchdb://user:***@host/db: cannot open the study database"),
])
def test_sweep_options_that_cannot_work_are_refused_by_name(args, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(GOOD))
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(SPEC))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    status = main(["sweep", *args])
    error = capsys.readouterr().err
    assert status == 2 and expected in error and "secret" not in error, error
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space.yaml", "spec.yaml", "taken"]  # nothing made


def test_without_optuna_the_message_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    assert main(["sweep", "--show", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "zoo sweep needs Optuna, which cannot be imported" in error and "pip install 'rnn-zoo[sweep]'" in error


def test_the_command_line_starts_without_optuna_or_torch():
    import subprocess

    probe = ("import sys; from zoo.cli import build_parser; build_parser(); "
             "print(sorted(m for m in ('optuna', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_under_torchrun_the_sweep_says_to_start_workers_instead(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(GOOD))
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(SPEC))
    assert main(["sweep", "spec.yaml", "--space", "space.yaml", "--trials", "2", "--out", "sweep"]) == 2
    assert "instead of torchrun, start several workers on one sweep" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_a_stepped_float_is_the_step_multiple_a_person_would_write():
    import optuna

    from zoo.sweep.space import Param

    param = Param.model_validate({"float": [0.0, 0.5], "step": 0.1})
    assert param.sample("x", optuna.trial.FixedTrial({"x": 0.30000000000000004})) == 0.3
    assert param.grid() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]


@pytest.mark.parametrize(("vectors", "expected"), [
    ("vec.txt", "params: model.embedding.dim: 16: the vectors in vec.txt are 8-dimensional"),
    ("vec.txt.gz", "params: model.embedding.dim: 16: the vectors in vec.txt.gz are 8-dimensional"),
    ("missing.txt",
     "params: model.embedding.dim: 8 makes the spec invalid: model.embedding.vectors: no file missing.txt"),
])
def test_embedding_sizes_the_vectors_file_does_not_have_are_refused_before_any_trial(
        vectors, expected, tmp_path, capsys, monkeypatch):
    """Found by a trial, the mismatch stopped the worker, and every --resume retried it in vain."""
    import gzip

    monkeypatch.chdir(tmp_path)
    line = ("film " + " ".join(["0.5"] * 8) + "\n").encode()
    (tmp_path / "vec.txt").write_bytes(line)
    (tmp_path / "vec.txt.gz").write_bytes(gzip.compress(b"1 8\n" + line))
    spec = {**SPEC, "model": {**SPEC["model"], "embedding": {"dim": 8, "vectors": vectors}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    (tmp_path / "space.yaml").write_text(yaml.safe_dump({"params": {"model.embedding.dim": {"choice": [8, 16]}}}))
    status = main(["sweep", "spec.yaml", "--space", "space.yaml", "--trials", "2", "--out", "sweep"])
    error = capsys.readouterr().err
    assert status == 2 and f"error: invalid search space space.yaml: {expected}" in error, error
    assert not (tmp_path / "sweep").exists()

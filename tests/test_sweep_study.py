"""The study behind a sweep: what a worker resuming or joining it samples."""

from __future__ import annotations

import pytest

from zoo.sweep.study import Sweep, open_study

pytest.importorskip("optuna")

SPACE = {"sampler": "random", "pruner": "none", "seed": 3,
         "params": {"model.encoder.hidden_size": {"int": [4, 4096]}, "train.optimizer.lr": {"float": [1e-4, 1e-1]}}}


def sampled(sweep: Sweep, trials: int) -> list[dict]:
    """The parameters of ``trials`` trials run by one worker process (a fresh study object)."""
    space = sweep.space
    study = open_study(sweep)
    study.optimize(lambda trial: sum(float(space.params[n].sample(n, trial)) for n in space.params), n_trials=trials)
    return [trial.params for trial in study.trials[-trials:]]


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_resumed_seeded_sweep_samples_new_values_not_the_first_trials_again(tmp_path, sampler):
    sweep = Sweep(tmp_path / "sweep", {"train": {"epochs": 1}}, {**SPACE, "sampler": sampler}, "study", 4).start()
    first = sampled(sweep, 2)
    resumed = sampled(sweep, 2)
    assert not [params for params in resumed if params in first], (first, resumed)


def test_a_fresh_seeded_sweep_is_reproducible(tmp_path):
    one = Sweep(tmp_path / "one", {"train": {"epochs": 1}}, SPACE, "study", 2).start()
    two = Sweep(tmp_path / "two", {"train": {"epochs": 1}}, SPACE, "study", 2).start()
    assert sampled(one, 2) == sampled(two, 2)


def test_an_unfinished_last_journal_record_is_dropped_so_the_study_goes_on(tmp_path, capsys):
    """A worker killed while appending leaves a line without its newline; the next append must not
    be glued to it (that would make the whole journal unreadable)."""
    sweep = Sweep(tmp_path / "sweep", {"train": {"epochs": 1}}, SPACE, "study", 4).start()
    sampled(sweep, 2)
    journal = sweep.dir / "study.journal"
    journal.write_bytes(journal.read_bytes() + b'{"op_code": 5, "worker_id": "cut sh')
    sampled(sweep, 1)
    assert "dropped an unfinished last record" in capsys.readouterr().err
    assert len(open_study(sweep).trials) == 3


@pytest.mark.parametrize("record, message", [
    (b"garbage\n", "line 5 is not a journal record (b'garbage\\n')"),
    (b"{}\n", "a record Optuna cannot apply (KeyError: 'op_code')"),
])
def test_a_damaged_journal_is_one_message_naming_it(tmp_path, record, message):
    from zoo.errors import ZooError

    sweep = Sweep(tmp_path / "sweep", {"train": {"epochs": 1}}, SPACE, "study", 4).start()
    sampled(sweep, 1)
    journal = sweep.dir / "study.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:4]) + record + b"".join(lines[4:]))
    with pytest.raises(ZooError, match="study.journal is damaged: ") as error:
        open_study(sweep)
    assert message in str(error.value)

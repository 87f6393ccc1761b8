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

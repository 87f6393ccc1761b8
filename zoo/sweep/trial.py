"""Running trials: each one an ordinary run directory, pruned through the lifecycle hooks.

The sweep observes its own trials the way any plugin observes a run: for the duration of a
trial it registers a small plugin object with the process's plugin manager. Its
``on_epoch_end`` reports the epoch's metric to Optuna and, when the pruner says the trial is
hopeless, asks the run to stop (:meth:`zoo.trainer.Run.stop`). The run then finishes like an
early-stopped one (its best checkpoint evaluated, ``summary.json`` written), and the trial is
recorded as pruned.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zoo.errors import SpecError, ZooError
from zoo.hookspecs import hookimpl
from zoo.sweep.space import Space, trial_spec
from zoo.sweep.study import Sweep, open_study
from zoo.sweep.workers import heartbeat, identity, reap, retry, surplus, taken

Say = Callable[[str], None]


class PruningObserver:
    """Reports a trial's metric to Optuna at every epoch end; stops the run when it is pruned."""

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None

    @hookimpl
    def on_run_start(self, run: Any) -> None:
        """A resumed run (the retry of a killed trial) reports the epochs it had already trained."""
        for record in run.history:
            self.trial.report(float(record[self.metric]), record["epoch"])

    @hookimpl
    def on_epoch_end(self, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        value = float(metrics[self.metric])
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            run.stop(f"trial {self.trial.number} pruned by the sweep ({self.metric} {value:.4f} "
                     f"at epoch {epoch} is worse than the pruner accepts)")


@contextmanager
def observing(plugins: Any, observer: Any, name: str) -> Iterator[None]:
    """``observer`` receives the lifecycle hooks while the block runs, and no longer after it."""
    plugins.manager.register(observer, name=name)
    try:
        yield
    finally:
        plugins.manager.unregister(observer)


class _Final(Exception):
    """A trial failed for a reason a retry would repeat: it counts, and the sweep goes on."""


class _StudyConflict(ZooError):
    """The space does not fit the study it joins; retrying the trial would fail again."""


class _Surplus(Exception):
    """A trial asked for after the sweep's places were taken: given up, the worker stops."""


def _describe(values: dict[str, Any]) -> str:
    return " ".join(f"{path}={json.dumps(value)}" for path, value in values.items())


class _Objective:
    """Optuna's objective: sample a spec, train it into ``DIR/trials/NNNN``, return its best metric."""

    def __init__(self, sweep: Sweep, space: Space, plugins: Any, say: Say) -> None:
        self.sweep, self.space, self.plugins, self.say = sweep, space, plugins, say
        self.current: int | None = None  # the number of the trial being run
        self.surplus = False

    def __call__(self, trial: Any) -> float:
        import optuna

        self.current = trial.number
        for key, value in identity().items():
            trial.set_user_attr(key, value)
        if surplus(trial.study, trial.number, self.sweep.trials):
            self.surplus = True
            trial.set_user_attr("surplus", True)
            raise _Surplus()
        try:
            return self._run(trial)
        except (_Final, _StudyConflict, optuna.TrialPruned):
            raise
        except BaseException as exc:  # recorded with the trial, then up to the worker (which retries it)
            trial.set_user_attr("failure", "interrupted" if isinstance(exc, KeyboardInterrupt) else _first_line(exc))
            raise

    def _run(self, trial: Any) -> float:
        from zoo.rundir import dump_spec
        from zoo.trainer import TrainingDiverged, train

        space = self.space
        values = self._sample(trial)
        resumed = self._interrupted_run(trial)
        out = resumed.path if resumed else self.sweep.trial_dir(trial.number)
        trial.set_user_attr("run_dir", str(out.resolve()))
        self.say(f"trial {trial.number}: {_describe(values)}" + (f" (continuing {out})" if resumed else ""))
        try:
            spec = trial_spec(self.sweep.spec, space, values, self.plugins.registry)
        except SpecError as exc:
            self._final(trial, f"the sampled spec is invalid: {_first_line(exc)}")
        trial.set_user_attr("spec", dump_spec(spec))
        observer = PruningObserver(trial, space.metric)
        try:
            with observing(self.plugins, observer, f"zoo-sweep-trial-{trial.number}"), heartbeat(trial):
                if resumed is None:
                    summary = train(spec, out=out, plugins=self.plugins)
                elif resumed.finished:  # stopped after its run finished, before Optuna heard of it
                    summary = json.loads(resumed.summary_file.read_text(encoding="utf-8"))
                else:
                    summary = train(resume=out, plugins=self.plugins)
        except TrainingDiverged as exc:
            self._final(trial, _first_line(exc))
        trial.set_user_attr("epochs", summary["epochs_run"])
        if observer.pruned_at is not None:
            import optuna

            self.say(f"trial {trial.number}: pruned after epoch {observer.pruned_at}")
            raise optuna.TrialPruned(f"pruned after epoch {observer.pruned_at}")
        self.say(f"trial {trial.number}: {space.metric} {summary['best_valid']:.4f} (epoch {summary['best_epoch']})")
        return float(summary["best_valid"])

    def _interrupted_run(self, trial: Any) -> Any:
        """The run directory of the trial this one retries, if it holds a checkpoint to go on from."""
        from zoo.rundir import RunDir

        retried = trial.user_attrs.get("retry_of")
        if retried is None:
            return None
        path = trial.study.get_trials(deepcopy=False)[retried].user_attrs.get("run_dir")
        run = RunDir(Path(path)) if path else None
        return run if run is not None and run.path.is_dir() and run.last.exists() else None

    def _sample(self, trial: Any) -> dict[str, Any]:
        values = {}
        for path, param in self.space.params.items():
            try:
                values[path] = param.sample(path, trial)
            except ValueError as exc:  # Optuna refuses a parameter whose values changed within a study
                raise _StudyConflict(f"params: {path}: study {self.sweep.study!r} already holds this parameter "
                                     f"with other values ({exc}); give another --study name") from None
        return values


    def _final(self, trial: Any, message: str) -> None:
        """Record a failure that a retry would repeat; the sweep goes on with the next trial."""
        trial.set_user_attr("failure", message)
        trial.set_user_attr("final", True)
        self.say(f"trial {trial.number}: failed: {message}")
        raise _Final(message)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_worker(sweep: Sweep, timeout: float | None = None, say: Say | None = None) -> Any:
    """Run trials of ``sweep`` in this process until its number of trials have counted (or
    ``timeout`` seconds have passed); other workers may run trials of the same study at once.

    Returns the study. A trial that fails for another reason (a data error, Ctrl-C, a bug) is
    marked failed and queued again before the error ends the worker.
    """
    from zoo.console import err
    from zoo.plugins import get_plugins
    from zoo.sweep import require_optuna

    require_optuna()
    say = say or (lambda text: err().print(text, highlight=False, markup=False))
    space = sweep.space
    study = open_study(sweep)
    objective = _Objective(sweep, space, get_plugins(), say)
    target = min(sweep.trials, space.grid_size())
    started = time.monotonic()
    while not objective.surplus:
        reap(study, say)
        if taken(study.get_trials(deepcopy=False)) >= target:
            break
        if timeout is not None and time.monotonic() - started >= timeout:
            say(f"--timeout of {timeout:g} s reached; continue with: zoo sweep --resume {sweep.dir}")
            break
        objective.current = None
        try:
            study.optimize(objective, n_trials=1, catch=(_Final, _Surplus))
        except BaseException as exc:
            if objective.current is not None and not isinstance(exc, _StudyConflict):
                trial = study.get_trials(deepcopy=False)[objective.current]
                if trial.state.is_finished():
                    reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {_first_line(exc)}"
                    retry(study, trial, reason)
            if isinstance(exc, KeyboardInterrupt):
                say(f"interrupted; the trial will run again with: zoo sweep --resume {sweep.dir}")
            raise
    return study

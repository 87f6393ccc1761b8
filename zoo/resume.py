"""Continuing a run: ``zoo train --resume RUN [--set train.epochs=20 ...]``.

A resumed run trains on with its own spec. Overrides may change only what does not alter the
epochs already computed — how long to go on (``train.epochs``, early stopping), what to log and
how many threads to use — so the run stays one consistent computation; anything else is refused
with the field named. Raising ``train.epochs`` also continues a finished run, as Keras's
``initial_epoch`` or a resumed Lightning ``max_epochs`` would. A cosine schedule is refused: its
learning rate is a function of ``train.epochs``, so extending it would rewrite the schedule the
earlier epochs followed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from zoo.errors import RunError
from zoo.rundir import RunDir, dump_spec, with_data_source

#: Dotted paths a resume may change, with every field below them.
EXTENDABLE = ("train.epochs", "train.early_stopping", "train.threads", "loggers")


def open_resumed(
    resume: str | Path, registry: Any, overrides: list[str] | None = None, source: str | None = None,
) -> tuple[RunDir, BaseModel, bool, str | None]:
    """The run at ``resume``, its spec with ``overrides`` applied, whether they changed it, and
    which data it continues on (``source``, else as :func:`zoo.rundir.with_data_source` says)."""
    from zoo.spec import load_spec

    run_dir = RunDir(Path(resume))
    if not run_dir.path.is_dir():
        raise RunError(f"{run_dir.path}: no such run directory")
    run_dir.check_writable()
    last = run_dir.checkpoint_file(run_dir.last)
    if not last.exists() and (run_dir.metrics_file.exists() or run_dir.finished):
        # epochs were recorded (metrics.jsonl follows each last checkpoint), so the state they
        # ended in is gone: starting again from epoch 1 would silently replace the run's work
        raise RunError(f"{run_dir.path} records finished epochs but has no {last.relative_to(run_dir.path)}, "
                       "the training state a resume continues from (a run shared without it, or damaged); "
                       "it can be evaluated and predicted with, not resumed")
    spec = run_dir.read_spec(registry)
    changed = False
    if overrides:
        new = load_spec(dump_spec(spec), overrides, registry)
        _check_extension(run_dir, spec, new)
        changed, spec = new != spec, new
    if run_dir.finished:
        trained = run_dir.epochs_run()
        if spec.train.epochs <= trained:
            raise RunError(f"{run_dir.path} holds a finished run of {trained} epochs; nothing to resume. "
                           f"To train it further: zoo train --resume {run_dir.path} --set train.epochs=N (N > {trained})")
    spec, note = with_data_source(spec, source, registry)
    return run_dir, spec, changed, note


def _check_extension(run_dir: RunDir, old: BaseModel, new: BaseModel) -> None:
    changed = sorted(path for path in _differences(dump_spec(old), dump_spec(new))
                     if not path.startswith(EXTENDABLE))
    if changed:
        raise RunError(
            f"--resume continues {run_dir.path} with its own spec; --set cannot change {', '.join(changed)} "
            f"(that would change what its finished epochs computed). A resume may change: {', '.join(EXTENDABLE)}. "
            "Train a new run for the rest"
        )
    if new.train.epochs != old.train.epochs and old.train.scheduler is not None and old.train.scheduler.name == "cosine":
        raise RunError(
            f"{run_dir.path} uses a cosine learning-rate schedule over train.epochs={old.train.epochs}; changing "
            "train.epochs would change the schedule its earlier epochs followed, so it cannot be extended. "
            "Train a new run with the longer schedule"
        )


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two plain-data specs differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            found += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return found
    return [] if old == new else [prefix.rstrip(".")]


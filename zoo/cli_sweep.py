"""``zoo sweep``: search a spec's hyperparameters with Optuna (see :mod:`zoo.sweep`).

    zoo sweep SPEC --space SPACE.yaml --trials N [--set k=v] [--out DIR] [--storage URL] [--study NAME] [--timeout S]
    zoo sweep --resume DIR [--trials N] [--timeout S]      continue (or join as another worker)
    zoo sweep --show DIR [--json]                          the table, best.yaml and plots, at any time

Nothing here imports Optuna or torch until the verb runs.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path

from zoo.errors import ZooError

DEFAULT_RECIPE = "imdb-lstm"
#: Options that describe a new sweep, and so cannot go with --resume or --show.
NEW_SWEEP_OPTIONS = {"space": "--space", "overrides": "--set", "out": "--out", "storage": "--storage",
                     "study": "--study"}


def cmd_sweep(args: argparse.Namespace) -> None:
    """Start, continue or show a sweep."""
    from zoo.sweep import require_optuna

    if args.resume and args.show:
        raise ZooError("give --resume DIR or --show DIR, not both")
    folder = args.resume or args.show
    if folder:
        given = [flag for name, flag in NEW_SWEEP_OPTIONS.items() if getattr(args, name)]
        if args.spec is not None:
            given.insert(0, f"SPEC ({args.spec})")
        if given:
            raise ZooError(f"{'--resume' if args.resume else '--show'} {folder} uses the sweep recorded there; "
                           f"drop {', '.join(given)}")
    if args.show and (args.trials is not None or args.timeout is not None):
        raise ZooError("--show only reports; --trials and --timeout go with a sweep that runs")
    require_optuna()
    if args.show:
        _report(_recorded(args.show), args.json)
        return
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ZooError("zoo sweep runs each trial in one process; instead of torchrun, start several workers on "
                       "one sweep (zoo sweep --resume DIR here, --storage URL on other machines): see README, Search")
    sweep = _recorded(args.resume) if args.resume else _new(args)
    if args.resume and args.trials is not None and args.trials != sweep.trials:
        sweep.trials = args.trials
        sweep.save()
    from zoo.sweep.trial import run_worker

    study = run_worker(sweep, timeout=args.timeout)
    result = _report(sweep, args.json, study)
    if result["best"] is None and result["trials_counted"] >= result["trials_wanted"]:
        # a script's next step (zoo train DIR/best.yaml) has nothing to train
        raise ZooError(f"no trial of the sweep in {sweep.dir} completed ({result['trials_counted']} failed or "
                       "were pruned; see the notes above), so there is no best.yaml")


def _recorded(folder: str):
    from zoo.sweep.study import Sweep

    return Sweep.read(folder)


def _new(args: argparse.Namespace):
    """The sweep the arguments describe, checked against the spec and recorded in its folder."""
    from zoo.plugins import get_registry
    from zoo.rundir import dump_spec
    from zoo.spec import load_spec
    from zoo.sweep.space import check_against, load_space
    from zoo.sweep.study import Sweep
    from zoo.sweep.study import storage as open_storage

    if not args.space:
        raise ZooError("zoo sweep needs --space SPACE.yaml (the parameters to vary; see README, Search)")
    if args.trials is None:
        raise ZooError("zoo sweep needs --trials N (how many trials the sweep runs, all workers together)")
    registry = get_registry()
    spec = load_spec(args.spec or DEFAULT_RECIPE, args.overrides, registry)
    base = dump_spec(spec)
    space, space_data = load_space(args.space)
    check_against(space, base, args.space, registry)
    out = Path(args.out) if args.out else Path("sweeps") / f"{spec.name}-{datetime.now():%Y%m%d-%H%M%S}"
    storage = args.storage
    if storage is not None and "://" not in storage:  # a journal file: the same one from any folder
        storage = str(Path(storage).absolute())
    sweep = Sweep(out, base, space_data, args.study or spec.name, args.trials, storage)
    if storage is not None:
        open_storage(sweep)  # a wrong --storage fails before the folder is made
    return sweep.start()


def _report(sweep, as_json: bool, study=None) -> dict:
    """Print the sweep's report (table, best.yaml, plots) and return it."""
    from zoo.console import print_json
    from zoo.sweep.report import report, show
    from zoo.sweep.study import open_study

    result = report(sweep, study or open_study(sweep))
    if as_json:
        print_json(result)
    else:
        show(result)
    return result


def _count(text: str) -> int:
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}")
    return value


def add_verb(verb) -> None:
    """Add ``zoo sweep`` to the CLI's parser."""
    sub = verb("sweep", cmd_sweep, "search hyperparameters with Optuna (needs the sweep extra)")
    sub.add_argument("spec", nargs="?", help=f"spec file or recipe name (default: {DEFAULT_RECIPE})")
    sub.add_argument("--space", metavar="SPACE.yaml", help="the parameters to vary, the metric, sampler and pruner")
    sub.add_argument("--trials", type=_count, metavar="N",
                     help="trials the sweep runs, all workers together (pruned ones count)")
    sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                     help="override a field of the spec for every trial")
    sub.add_argument("--out", metavar="DIR", help="sweep folder (default: sweeps/NAME-TIMESTAMP)")
    sub.add_argument("--storage", metavar="URL",
                     help="Optuna storage shared by workers: a database URL (postgresql://..., sqlite:///...) or a "
                          "journal file path (default: DIR/study.journal)")
    sub.add_argument("--study", metavar="NAME", help="study name in the storage (default: the spec's name)")
    sub.add_argument("--timeout", type=_seconds, metavar="S", help="start no trial after S seconds")
    sub.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR (or join it as one more worker)")
    sub.add_argument("--show", metavar="DIR", help="report the sweep in DIR: table, best.yaml, plots")
    sub.add_argument("--json", action="store_true", help="print the report as JSON")

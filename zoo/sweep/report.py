"""What a sweep found: the table of trials, ``best.yaml`` and the plots.

Written at the end of every worker's sweep and by ``zoo sweep --show DIR`` at any time (while
workers run, too): the study storage is the only source, so the report is the same from any
machine that reaches it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from zoo.io import atomic_write_text
from zoo.sweep.space import Space
from zoo.sweep.study import JOURNAL_FILE, Sweep, safe_url
from zoo.sweep.workers import alive, counts

BEST_FILE = "best.yaml"
PLOTS = {"history": "plot_optimization_history", "importances": "plot_param_importances",
         "parallel": "plot_parallel_coordinate"}


def trial_rows(study: Any, space: Space) -> list[dict[str, Any]]:
    """One plain row per trial (surplus trials, never run, left out)."""
    from optuna.trial import TrialState

    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    retried_as = {t.user_attrs["retry_of"]: t.number for t in trials if "retry_of" in t.user_attrs}
    rows = []
    for t in trials:
        state = t.state.name.lower()
        if t.state == TrialState.RUNNING and not alive(t):
            state = "dead"
        notes = []
        if "failure" in t.user_attrs:
            notes.append(t.user_attrs["failure"].splitlines()[0])
        if "retry_of" in t.user_attrs:
            reason = t.user_attrs.get("retry_reason")
            notes.append(f"retries trial {t.user_attrs['retry_of']}" + (f" ({reason})" if reason else ""))
        if t.number in retried_as:
            notes.append(f"retried as trial {retried_as[t.number]}")
        seconds = ((t.datetime_complete - t.datetime_start).total_seconds()
                   if t.datetime_complete and t.datetime_start else None)
        rows.append({
            "number": t.number,
            "state": state,
            "counts": counts(t),
            "value": t.value if t.state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
            "params": {name: space.params[name].decode(value) if name in space.params else value
                       for name, value in t.params.items()},
            "epochs": t.user_attrs.get("epochs", len(t.intermediate_values) or None),
            "seconds": seconds,
            "run_dir": t.user_attrs.get("run_dir"),
            "host": t.user_attrs.get("host"),
            "note": "; ".join(notes),
        })
    return rows


def best_trial(study: Any) -> Any | None:
    """The best completed trial, or ``None`` before any completed."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def write_best(sweep: Sweep, study: Any, space: Space) -> Path | None:
    """Write the best trial's full spec to ``DIR/best.yaml`` (loadable by ``zoo train``)."""
    import yaml

    best = best_trial(study)
    if best is None or "spec" not in best.user_attrs:
        return None
    header = (f"# The best trial of the sweep in {sweep.dir} (study {sweep.study}): trial {best.number}, "
              f"{space.metric} {best.value:.4f}.\n# Train it with: zoo train {sweep.dir / BEST_FILE}\n")
    return atomic_write_text(sweep.dir / BEST_FILE,
                             header + yaml.safe_dump(best.user_attrs["spec"], sort_keys=False))


def write_plots(sweep: Sweep, study: Any) -> tuple[list[Path], list[str]]:
    """The PNG plots under ``DIR/plots/``, and a note for each plot that could not be drawn."""
    from optuna.trial import TrialState

    from zoo.plot import _pyplot, save_figure

    _pyplot()  # the non-interactive backend, before Optuna imports pyplot
    from optuna.visualization import matplotlib as plots

    completed = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    written, notes = [], []
    for name, function in PLOTS.items():
        needed = 2 if name == "importances" else 1
        if completed < needed:
            notes.append(f"{name} plot skipped: it needs {needed} completed trial{'s' if needed > 1 else ''} "
                         f"({completed} so far)")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                axes = getattr(plots, function)(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            notes.append(f"{name} plot skipped: {exc}")
            continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(11, 6)
        figure.tight_layout()  # room for the long dotted parameter names
        written.append(save_figure(figure, sweep.dir / "plots" / f"{name}.png"))
    return written, notes


def report(sweep: Sweep, study: Any) -> dict[str, Any]:
    """Write ``best.yaml`` and the plots; return everything ``--show`` prints."""
    space = sweep.space
    rows = trial_rows(study, space)
    best = best_trial(study)
    best_file = write_best(sweep, study, space)
    plots, notes = write_plots(sweep, study)
    return {
        "sweep": str(sweep.dir),
        "study": sweep.study,
        "storage": safe_url(sweep.storage) if sweep.storage else str(sweep.dir / JOURNAL_FILE),
        "metric": space.metric,
        "direction": space.direction,
        "trials_wanted": sweep.trials,
        "trials_counted": sum(row["counts"] for row in rows),
        "best": None if best is None else {
            "number": best.number, "value": best.value,
            "params": next(row["params"] for row in rows if row["number"] == best.number),
            "run_dir": best.user_attrs.get("run_dir"), "spec": str(best_file) if best_file else None,
        },
        "trials": rows,
        "plots": [str(path) for path in plots],
        "notes": notes,
    }


def show(result: dict[str, Any]) -> None:
    """Print a report as tables (stdout) with its notes."""
    from rich.markup import escape

    from zoo.console import out, table

    params = list(dict.fromkeys(name for row in result["trials"] for name in row["params"]))

    def number(value: Any, digits: int = 4) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    rows = [[row["number"], row["state"], number(row["value"]),
             *[escape(_short(row["params"].get(name))) for name in params],
             row["epochs"] or "", number(row["seconds"], 1), escape(row["note"])] for row in result["trials"]]
    title = (f"sweep {escape(result['sweep'])}: {result['trials_counted']} of {result['trials_wanted']} trials, "
             f"{result['metric']} ({result['direction']})")
    out().print(table(title, ["trial", "state", result["metric"], *map(escape, params), "epochs", "seconds", "note"],
                      rows))
    best = result["best"]
    lines = []
    if best is not None:
        lines.append(f"best: trial {best['number']}, {result['metric']} {best['value']:.4f}, run {best['run_dir']}")
        if best["spec"]:
            lines.append(f"its spec: {best['spec']} (zoo train {best['spec']})")
    lines += [f"plot: {path}" for path in result["plots"]] + result["notes"]
    for line in lines:
        out().print(escape(line), highlight=False)


def _short(value: Any) -> str:
    import json

    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value)

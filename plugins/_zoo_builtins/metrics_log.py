"""Built-in logger: writes ``metrics.jsonl`` (one JSON line per epoch) through the lifecycle hooks.

On a resumed run the file is first rewritten from the checkpoint's history, so that an epoch
logged after the last checkpoint of a killed run is not logged twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo import hookimpl
from zoo.io import append_line, atomic_write_text
from zoo.rundir import RunDir


def _path(run: Any) -> Path:
    run_dir = RunDir(Path(run.dir))
    return run_dir.writable(run_dir.metrics_file)


@hookimpl
def on_run_start(run: Any) -> None:
    atomic_write_text(_path(run), "".join(json.dumps(record) + "\n" for record in run.history))


@hookimpl
def on_epoch_end(run: Any, epoch: int, metrics: dict[str, Any]) -> None:
    append_line(_path(run), json.dumps(metrics))

"""Training progress: a live rich display on a terminal, plain log lines anywhere else (CI, files)."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class TrainProgress:
    """Shows epoch, step, throughput and running loss/accuracy while a run trains."""

    def __init__(self, epochs: int, live: bool | None = None, log_every: float = 30.0,
                 enabled: bool = True) -> None:
        from rich.console import Console

        from zoo.console import err

        self.epochs = epochs
        # A disabled display (non-zero ranks, benchmarks) prints nothing at all.
        self.console = err() if enabled else Console(quiet=True)
        self.live = enabled and (sys.stderr.isatty() if live is None else live)
        self.log_every = log_every
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> TrainProgress:
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start_epoch(self, epoch: int, steps: int) -> None:
        self._epoch, self._steps = epoch, steps
        self._start = self._last_log = time.perf_counter()
        if self._progress is not None:
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(
                "train", total=steps, epoch=epoch, epochs=self.epochs, stats=""
            )

    def step(self, step: int, reviews: int, loss: float, accuracy: float) -> None:
        now = time.perf_counter()
        rate = reviews / max(now - self._start, 1e-9)
        stats = f"loss {loss:.4f} acc {accuracy:.4f} {rate:,.0f} reviews/s"
        if self._progress is not None:
            self._progress.update(self._task, completed=step, stats=stats)
        elif now - self._last_log >= self.log_every:
            self._last_log = now
            self.console.print(f"epoch {self._epoch}/{self.epochs} step {step}/{self._steps} {stats}", highlight=False)

    def end_epoch(self, record: dict[str, Any]) -> None:
        self.console.print(
            f"epoch {record['epoch']}/{self.epochs}: train loss {record['train_loss']:.4f} "
            f"acc {record['train_accuracy']:.4f} | valid loss {record['valid_loss']:.4f} "
            f"acc {record['valid_accuracy']:.4f} | {record['seconds']:.1f}s"
            + (" *" if record.get("best") else ""),
            highlight=False,
        )

    def message(self, text: str) -> None:
        """A line of plain text (it may quote paths and names: nothing in it is markup)."""
        from zoo.console import safe

        self.console.print(safe(text, newlines=True), highlight=False)

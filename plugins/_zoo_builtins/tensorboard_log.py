"""Built-in logger ``tensorboard``: TensorBoard event files under ``RUN/tensorboard/``.

A run gets it by listing it in its spec, ``loggers: [tensorboard]``. This module never imports
torch or tensorboard at import time, so ``zoo list`` stays fast. ``torch.utils.tensorboard``
needs the ``tensorboard`` package, an optional extra of zoo: ``pip install 'rnn-zoo[tensorboard]'``.
Without it, a run that asks for the logger stops at its start with a message saying so.

Scalars per epoch (step = epoch): ``loss/train``, ``loss/valid``, ``accuracy/train``,
``accuracy/valid``, ``lr``, ``seconds/epoch``, ``throughput/train_tokens_per_second``; at the end
of the run ``test/*`` (loss, accuracy, f1, roc_auc, ...) at the best epoch. A resumed run
discards events logged after its last checkpoint (``purge_step``), so no epoch appears twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from zoo import hookimpl, install_hint
from zoo.errors import ZooError
from zoo.rundir import RunDir

INSTALL_HINT = install_hint("tensorboard")

_SCALARS = {
    "train_loss": "loss/train",
    "valid_loss": "loss/valid",
    "train_accuracy": "accuracy/train",
    "valid_accuracy": "accuracy/valid",
    "lr": "lr",
    "seconds": "seconds/epoch",
    "train_tokens_per_second": "throughput/train_tokens_per_second",
}


class TensorBoardConfig(BaseModel):
    """TensorBoard event files under RUN/tensorboard/ (needs zoo's tensorboard extra)."""

    model_config = ConfigDict(extra="forbid")


def log_dir(run: Any) -> Path:
    """``RUN/tensorboard``, checked to lie inside the run (no link out of it)."""
    run_dir = RunDir(Path(run.dir))
    return run_dir.writable(run_dir.path / "tensorboard", folder=True)


def _summary_writer() -> type:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch.utils.tensorboard raises this when tensorboard is missing
        raise ZooError(
            f"the spec enables the tensorboard logger (loggers: [tensorboard]), but the tensorboard "
            f"package cannot be imported ({exc}); install it with: {INSTALL_HINT}, or remove "
            "'tensorboard' from the spec's loggers"
        ) from None
    return SummaryWriter


class TensorBoardLogger:
    """One run's event file writer, opened when the run starts and closed when it ends."""

    def __init__(self, config: TensorBoardConfig) -> None:
        self.writer: Any = None

    def on_run_start(self, run: Any) -> None:
        # purge_step: a resumed run drops what a killed run logged after its last checkpoint.
        purge = run.start_epoch + 1 if run.start_epoch else None
        self.writer = _summary_writer()(log_dir=str(log_dir(run)), purge_step=purge)

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any]) -> None:
        for key, tag in _SCALARS.items():
            value = metrics.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(tag, value, epoch)
        self.writer.flush()

    def on_run_end(self, run: Any, summary: dict[str, Any]) -> None:
        step = summary.get("best_epoch") or len(run.history)
        for key, value in (summary.get("test") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"test/{key}", value, step)
        self.writer.close()


@hookimpl
def register_components(registry) -> None:
    registry.register(
        "logger", "tensorboard", config=TensorBoardConfig, factory=TensorBoardLogger,
        description=f"TensorBoard event files under RUN/tensorboard/ (needs {INSTALL_HINT}).",
    )

"""Built-in logger: TensorBoard event files under ``RUN/tensorboard/``, for specs that ask for it.

Enabled by ``loggers: [tensorboard]`` in the spec; otherwise every hook returns at once, and
nothing is imported (this module never imports torch or tensorboard at import time, so
``zoo list`` stays fast). ``torch.utils.tensorboard`` needs the ``tensorboard`` package, an
optional extra of zoo: ``pip install 'zoo[tensorboard]'``. Without it, a run that asks for the
logger stops at its start with a message saying so.

Scalars per epoch (step = epoch): ``loss/train``, ``loss/valid``, ``accuracy/train``,
``accuracy/valid``, ``lr``, ``seconds/epoch``, ``throughput/train_tokens_per_second``; at the end
of the run ``test/*`` (loss, accuracy, f1, roc_auc, ...) at the best epoch. A resumed run
discards events logged after its last checkpoint (``purge_step``), so no epoch appears twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo import hookimpl
from zoo.errors import ZooError

NAME = "tensorboard"
INSTALL_HINT = "pip install 'zoo[tensorboard]'"

#: Open writers by run directory (a process may train several runs one after another).
_writers: dict[str, Any] = {}

_SCALARS = {
    "train_loss": "loss/train",
    "valid_loss": "loss/valid",
    "train_accuracy": "accuracy/train",
    "valid_accuracy": "accuracy/valid",
    "lr": "lr",
    "seconds": "seconds/epoch",
    "train_tokens_per_second": "throughput/train_tokens_per_second",
}


def enabled(run: Any) -> bool:
    """Whether the run's spec lists this logger."""
    return NAME in (getattr(run.spec, "loggers", None) or [])


def log_dir(run: Any) -> Path:
    return Path(run.dir) / "tensorboard"


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


@hookimpl
def on_run_start(run: Any) -> None:
    if not enabled(run):
        return
    writer_class = _summary_writer()
    key = str(run.dir)
    if key in _writers:
        _writers.pop(key).close()
    # purge_step: a resumed run drops what a killed run logged after its last checkpoint.
    purge = run.start_epoch + 1 if run.start_epoch else None
    _writers[key] = writer_class(log_dir=str(log_dir(run)), purge_step=purge)


@hookimpl
def on_epoch_end(run: Any, epoch: int, metrics: dict[str, Any]) -> None:
    writer = _writers.get(str(run.dir)) if enabled(run) else None
    if writer is None:
        return
    for key, tag in _SCALARS.items():
        value = metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            writer.add_scalar(tag, value, epoch)
    writer.flush()


@hookimpl
def on_run_end(run: Any, summary: dict[str, Any]) -> None:
    writer = _writers.pop(str(run.dir), None) if enabled(run) else None
    if writer is None:
        return
    step = summary.get("best_epoch") or len(getattr(run, "history", []) or [])
    for key, value in (summary.get("test") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            writer.add_scalar(f"test/{key}", value, step)
    writer.close()

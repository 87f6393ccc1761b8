"""A run's figures as PNGs: learning curves, the confusion matrix (matplotlib, imported only here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.console import printable
from zoo.io import atomic_write


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain(text: str) -> str:
    """``text`` shown as written: control characters as escapes, and a ``$`` in a label or a
    spec's name starting no mathtext formula (an unbalanced one would fail the whole figure)."""
    return printable(text).replace("$", r"\$")


def save_figure(figure: Any, path: Path) -> Path:
    """Write ``figure`` to ``path`` atomically and free it."""
    try:
        return atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=100))
    finally:
        _pyplot().close(figure)


def plot_curves(history: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Loss and accuracy per epoch, train and valid side by side."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    figure, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "valid"):
        loss_ax.plot(epochs, [h[f"{split}_loss"] for h in history], marker="o", label=split)
        acc_ax.plot(epochs, [h[f"{split}_accuracy"] for h in history], marker="o", label=split)
    for ax, name in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.suptitle(_plain(title))
    figure.tight_layout()
    return save_figure(figure, path)


def plot_confusion(confusion: list[list[int]], labels: list[str], path: Path, title: str) -> Path:
    """The confusion matrix as a heat map with its counts (rows: true label, columns: predicted)."""
    plt = _pyplot()
    size = max(4.0, 0.6 * len(labels) + 2)
    figure, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(confusion, cmap="Blues")
    figure.colorbar(image, ax=ax)
    ticks = range(len(labels))
    names = [_plain(label) for label in labels]
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max((max(row) for row in confusion), default=0)
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center",
                    color="white" if count > peak / 2 else "black", fontsize=8)
    ax.set_title(_plain(title))
    figure.tight_layout()
    return save_figure(figure, path)

"""Learning curves of a run as a PNG (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.io import atomic_write


def plot_curves(history: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Loss and accuracy per epoch, train and valid side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    figure.suptitle(title)
    figure.tight_layout()
    try:
        return atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=100))
    finally:
        plt.close(figure)

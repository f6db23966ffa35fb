"""How training went: learning curves, and the confusion matrix of the errors (chapters 3 to 6)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from lib.plots.style import WRONG_COLOUR, finish

METRIC_NAMES = {"accuracy": "Accuracy", "loss": "Loss"}


def learning_curves_figure(
    history: dict[str, Sequence[float]],
    metrics: Sequence[str] = ("accuracy", "loss"),
    *,
    title: str | None = None,
) -> plt.Figure:
    """Training (dots) against validation (line) for each metric, epoch by epoch.

    ``history`` is a Keras ``History.history`` dict: ``{"accuracy": [...],
    "val_accuracy": [...], ...}``. Where the validation loss is lowest, the
    loss panel marks the epoch with a dotted line: past it, the model starts
    to learn the training set by heart.
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4))
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics, strict=True):
        label = METRIC_NAMES.get(metric, metric)
        train = np.asarray(history[metric], dtype=float)
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, "o", color="tab:blue", label=f"Training {label.lower()}")
        val = history.get(f"val_{metric}")
        if val is not None:
            ax.plot(epochs, val, "-", color="tab:orange", lw=2, label=f"Validation {label.lower()}")
            if metric == "loss" and len(val) > 1:
                best = int(np.argmin(val)) + 1
                ax.axvline(
                    best, color="0.5", ls=":", lw=1, label=f"Lowest validation loss ({best})"
                )
        ax.set_title(f"Training and validation {label.lower()}")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    return finish(fig)


def confusion_matrix_figure(
    matrix: np.ndarray,
    class_names: Sequence[str],
    *,
    title: str | None = None,
) -> plt.Figure:
    """A confusion matrix: rows are the true classes, columns the predicted ones.

    Colours are on a logarithmic scale, so that the few mistakes off the
    diagonal stay visible next to the thousands of right answers on it;
    every non-zero cell shows its count.
    """
    matrix = np.asarray(matrix)
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(0.62 * n + 2.2, 0.62 * n + 1.4))
    shown = np.ma.masked_equal(matrix, 0)
    image = ax.imshow(shown, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(2, matrix.max())))
    threshold = np.sqrt(max(2, matrix.max()))
    for row in range(n):
        for col in range(n):
            if matrix[row, col]:
                colour = "white" if matrix[row, col] > threshold else "black"
                if row != col:
                    colour = WRONG_COLOUR if matrix[row, col] <= threshold else "white"
                ax.text(
                    col,
                    row,
                    str(matrix[row, col]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=colour,
                )
    ax.set_xticks(range(n), class_names)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(title or "Confusion matrix")
    fig.colorbar(image, ax=ax, label="Count (log scale)", shrink=0.8)
    fig.tight_layout()
    return finish(fig)

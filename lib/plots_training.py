"""Figures of the training chapters (3 to 5), reused by the later ones.

Same idiom as ``lib.plots``: each function draws with pyplot, closes the
figure (so a notebook cell that ends with the call shows it exactly once) and
returns the :class:`matplotlib.figure.Figure`.

- :func:`plot_history` training against validation curves, per epoch;
- :func:`plot_prediction_grid` photos with the predicted class as the title,
  the wrong ones marked;
- :func:`plot_augmented_samples` one photo and random augmented versions;
- :func:`plot_digit_grid` and :func:`plot_confusion_matrix` for the mistakes
  of a classifier (MNIST).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

RIGHT_COLOUR = "tab:green"
WRONG_COLOUR = "tab:red"
METRIC_NAMES = {"accuracy": "Accuracy", "loss": "Loss"}


def _finish(fig: plt.Figure) -> plt.Figure:
    plt.close(fig)
    return fig


def _as_image(image) -> np.ndarray:
    """An array imshow shows faithfully: uint8 as is, floats clipped to [0, 1]."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0.0, 1.0)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image


def plot_history(
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
    return _finish(fig)


def plot_prediction_grid(
    images: Sequence[np.ndarray],
    predicted: Sequence[int],
    actual: Sequence[int],
    class_names: Sequence[str],
    *,
    scores: Sequence[float] | None = None,
    ncols: int = 5,
    title: str | None = None,
) -> plt.Figure:
    """Photos with the predicted class as the title; wrong predictions in red, marked ✗.

    ``predicted`` and ``actual`` are class indices into ``class_names``;
    ``scores`` (optional) the model's confidence in its prediction, shown in
    brackets. The figure's title counts the right predictions.
    """
    count = len(images)
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 3.1 * nrows), layout="constrained")
    axes = np.atleast_1d(axes).ravel()
    right = 0
    for index, ax in enumerate(axes):
        ax.axis("off")
        if index >= count:
            continue
        guess, truth = int(predicted[index]), int(actual[index])
        correct = guess == truth
        right += correct
        ax.imshow(_as_image(images[index]))
        text = class_names[guess]
        if scores is not None:
            text += f" ({float(scores[index]):.2f})"
        if not correct:
            text = f"✗ {text}\n(is a {class_names[truth]})"
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(WRONG_COLOUR)
                spine.set_linewidth(4)
        ax.set_title(text, color=RIGHT_COLOUR if correct else WRONG_COLOUR, fontsize=11)
    heading = f"{right} of {count} right"
    fig.suptitle(f"{title}: {heading}" if title else heading, fontsize=13)
    return _finish(fig)


def plot_augmented_samples(
    original: np.ndarray,
    augmented: Sequence[np.ndarray],
    *,
    ncols: int = 3,
    title: str | None = None,
) -> plt.Figure:
    """The original photo, large on the left, next to its augmented versions."""
    count = len(augmented)
    nrows = -(-count // ncols)
    fig = plt.figure(figsize=(2.6 * (ncols + nrows), 2.8 * nrows), layout="constrained")
    grid = fig.add_gridspec(nrows, nrows + ncols)
    ax = fig.add_subplot(grid[:, :nrows])
    ax.imshow(_as_image(original))
    ax.set_title("Original")
    ax.axis("off")
    for index, image in enumerate(augmented):
        row, col = divmod(index, ncols)
        ax = fig.add_subplot(grid[row, nrows + col])
        ax.imshow(_as_image(image))
        ax.set_title(f"Augmented {index + 1}", fontsize=10)
        ax.axis("off")
    fig.suptitle(title or "One training photo and random augmented versions", fontsize=13)
    return _finish(fig)


def plot_digit_grid(
    images: Sequence[np.ndarray],
    actual: Sequence[int],
    predicted: Sequence[int],
    *,
    ncols: int = 10,
    title: str | None = None,
) -> plt.Figure:
    """Small grey images titled "true → predicted" (for a classifier's mistakes)."""
    count = len(images)
    nrows = max(1, -(-count // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.55 * nrows))
    axes = np.atleast_1d(axes).ravel()
    for index, ax in enumerate(axes):
        ax.axis("off")
        if index < count:
            ax.imshow(_as_image(images[index]), cmap="gray")
            ax.set_title(f"{actual[index]} → {predicted[index]}", fontsize=10, color=WRONG_COLOUR)
    fig.suptitle(title or "Mistakes (true → predicted)", fontsize=12)
    fig.tight_layout()
    return _finish(fig)


def plot_confusion_matrix(
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
    return _finish(fig)

"""Pictures side by side: photos and digits, predictions on them, augmented versions.

Chapters 1 to 7: any images with their titles; a classifier's predictions on
photos (wrong ones framed in red) and its mistakes on digits; one training
photo next to its random augmentations.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from lib.images import CATS_DOGS, predicted_labels
from lib.plots.style import RIGHT_COLOUR, WRONG_COLOUR, as_image, finish


def images_figure(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    title: str | None = None,
    size: float = 3.0,
) -> plt.Figure:
    """Images side by side: RGB ones in colour, 2-D ones in grey (scaled to their range)."""
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size + 0.4))
    axes = np.atleast_1d(axes)
    for ax, image, name in zip(axes, images, titles, strict=True):
        ax.imshow(image, cmap="gray" if np.ndim(image) == 2 else None)
        ax.set_title(name, fontsize=11)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return finish(fig)


def photo_figure(photo, title: str, *, size: float = 3.0) -> plt.Figure:
    """One photo, ``size`` inches square, under its title."""
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(as_image(photo))
    ax.set_title(title)
    ax.axis("off")
    return finish(fig)


def prediction_grid_figure(
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
        ax.imshow(as_image(images[index]))
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
    return finish(fig)


def dog_predictions_figure(
    photos: Sequence[np.ndarray],
    dog_probability: Sequence[float],
    actual: Sequence[int],
    *,
    title: str | None = None,
) -> plt.Figure:
    """:func:`prediction_grid_figure` for a cats-versus-dogs model's sigmoid outputs.

    A probability above 0.5 reads as "dog"; the confidence shown is the
    probability of the predicted class (``p`` for a dog, ``1 - p`` for a cat).
    ``actual`` holds 0 for a cat and 1 for a dog.
    """
    dog_probability = np.asarray(dog_probability, dtype=float).ravel()
    predicted = predicted_labels(dog_probability)
    confidence = np.where(predicted == 1, dog_probability, 1 - dog_probability)
    return prediction_grid_figure(
        photos, predicted, actual, CATS_DOGS, scores=confidence, title=title
    )


def augmented_samples_figure(
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
    ax.imshow(as_image(original))
    ax.set_title("Original")
    ax.axis("off")
    for index, image in enumerate(augmented):
        row, col = divmod(index, ncols)
        ax = fig.add_subplot(grid[row, nrows + col])
        ax.imshow(as_image(image))
        ax.set_title(f"Augmented {index + 1}", fontsize=10)
        ax.axis("off")
    fig.suptitle(title or "One training photo and random augmented versions", fontsize=13)
    return finish(fig)


def digit_grid_figure(
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
            ax.imshow(as_image(images[index]), cmap="gray")
            ax.set_title(f"{actual[index]} → {predicted[index]}", fontsize=10, color=WRONG_COLOUR)
    fig.suptitle(title or "Mistakes (true → predicted)", fontsize=12)
    fig.tight_layout()
    return finish(fig)

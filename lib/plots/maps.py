"""Maps of what a convnet sees: activations and filter patterns (chapter 7), Grad-CAM (chapter 8).

The numbers come from :mod:`lib.visualize` and :mod:`lib.gradcam`; these
builders only lay them out. Heatmaps are drawn with the *jet* colour map on
a fixed 0..1 scale (blue for 0, red for 1), on their own or over the photo
(:func:`lib.gradcam.overlay_heatmap`).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from lib import gradcam, visualize
from lib.plots.style import as_image, finish


def _panel(ax, picture, title: str, **imshow) -> None:
    """One picture in one axes, titled, without axes lines."""
    ax.imshow(picture, **imshow)
    ax.set_title(title)
    ax.axis("off")


def _heatmap_panel(ax, heatmap, title: str) -> None:
    _panel(ax, heatmap, title, cmap="jet", vmin=0, vmax=1)


def _overlay_panel(ax, photo, heatmap, title: str, alpha: float) -> None:
    _panel(ax, gradcam.overlay_heatmap(photo, heatmap, alpha=alpha), title)


# --- chapter 7: activations and filter patterns --------------------------------------------


def activation_figure(activation, layer_name: str, per_row: int = 16, *, width: float = 13.0):
    """The grid of :func:`lib.visualize.activation_grid` titled with the layer's name and size."""
    grid = visualize.activation_grid(activation, per_row)
    shape = np.shape(activation)[-3:]
    height = max(1.2, width * grid.shape[0] / grid.shape[1])
    fig, ax = plt.subplots(figsize=(width, height + 0.5))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_title(f"{layer_name}: {shape[2]} channels of {shape[0]}x{shape[1]}")
    ax.axis("off")
    fig.tight_layout()
    return finish(fig)


def pattern_grid_figure(patterns, title: str, per_row: int = 4, labels=None, *, width=6.0):
    """A grid of filter patterns (``(n, h, w, 3)`` uint8), each labelled with its filter."""
    patterns = np.asarray(patterns)
    rows = -(-len(patterns) // per_row)
    labels = list(range(len(patterns))) if labels is None else list(labels)
    fig, axes = plt.subplots(rows, per_row, figsize=(width, width * rows / per_row + 0.5))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, pattern, label in zip(np.ravel(axes), patterns, labels, strict=False):
        ax.imshow(pattern, interpolation="nearest")
        ax.set_title(f"filter {label}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)


# --- chapter 8: Grad-CAM ----------------------------------------------------------------------


def heatmap_values_figure(heatmap, *, title: str = "", size: float = 4.0) -> plt.Figure:
    """A heatmap as computed, one coloured cell per value with the value written in it."""
    heatmap = np.asarray(heatmap)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(heatmap, cmap="jet", vmin=0, vmax=1)
    for row in range(heatmap.shape[0]):
        for col in range(heatmap.shape[1]):
            ax.text(col, row, f"{heatmap[row, col]:.1f}", ha="center", va="center", fontsize=7)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return finish(fig)


def gradcam_figure(image, heatmap, *, title: str = "", alpha: float = 0.4) -> plt.Figure:
    """Three panels: the photo, the raw heatmap (its own pixels) and the overlay."""
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.8))
    _panel(axes[0], as_image(image), "photo")
    height, width = np.shape(heatmap)
    _heatmap_panel(axes[1], heatmap, f"heatmap ({height}x{width})")
    _overlay_panel(axes[2], image, heatmap, f"overlay (alpha {alpha})", alpha)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)


def heatmap_overlay_figure(photo, heatmap, *, title: str = "", alpha: float = 0.4):
    """Two panels: the raw heatmap (its own pixels) and its overlay on the photo, titled."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    height, width = np.shape(heatmap)
    _heatmap_panel(axes[0], heatmap, f"heatmap {height}x{width}")
    _overlay_panel(axes[1], photo, heatmap, title, alpha)
    return finish(fig)


def overlays_figure(
    photo,
    heatmaps: Sequence,
    titles: Sequence[str],
    *,
    alpha: float = 0.4,
    panel: float = 4.5,
    title: str | None = None,
) -> plt.Figure:
    """One photo under several heatmaps (one class, or one contrast, each), side by side.

    Each panel is ``panel`` inches square.
    """
    fig, axes = plt.subplots(1, len(heatmaps), figsize=(panel * len(heatmaps), panel))
    for ax, heatmap, name in zip(np.atleast_1d(axes), heatmaps, titles, strict=True):
        _overlay_panel(ax, photo, heatmap, name, alpha)
    if title:
        fig.suptitle(title)
    return finish(fig)


def class_heatmaps_figure(
    photos: Sequence,
    photo_titles: Sequence[str],
    heatmaps: Sequence[Sequence],
    class_names: Sequence[str],
    *,
    alpha: float = 0.4,
    title: str | None = None,
) -> plt.Figure:
    """One row per photo: the photo, then its overlay with the heatmap of each class.

    ``heatmaps[i][c]`` is photo ``i``'s heatmap for class ``c``; its panel is
    titled with the class's index and name (from ``class_names``) and the
    heatmap's size.
    """
    rows, cols = len(photos), 1 + len(class_names)
    fig, axes = plt.subplots(rows, cols, figsize=(10 * cols / 3, 3.5 * rows), squeeze=False)
    for row, photo, photo_title, maps in zip(axes, photos, photo_titles, heatmaps, strict=True):
        _panel(row[0], as_image(photo), photo_title)
        for index, (ax, heatmap) in enumerate(zip(row[1:], maps, strict=True)):
            height, width = np.shape(heatmap)
            name = f"class {index} ({class_names[index]}), heatmap {height}x{width}"
            _overlay_panel(ax, photo, heatmap, name, alpha)
    if title:
        fig.suptitle(title)
    return finish(fig)

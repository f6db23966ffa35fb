"""The five levels of image understanding, drawn on one photo (chapter 9).

Panels 1 and 2 show what a classifier computed: its top class, and a box
around the hottest region of that class's Grad-CAM heatmap. Panels 3 to 5
are illustrations: boxes and ellipses placed by hand (``regions``), standing
in for a detector's boxes and a segmentation network's masks.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch, Rectangle

from lib.plots.style import finish

CLASS_COLOURS = ((0.12, 0.47, 0.71), (1.0, 0.50, 0.05))  # one per class, in the regions' order
BACKGROUND_COLOUR = (0.5, 0.5, 0.5)
INSTANCE_COLOURS = ((0.17, 0.63, 0.17), (0.58, 0.40, 0.74))  # one per animal
NETWORK_COLOUR = (0.84, 0.15, 0.16)  # what the network computed
TINT = 0.5  # weight of a mask's colour over the photo


def _pixels(fractions, shape) -> tuple[float, float, float, float]:
    """A region given as fractions of the photo (left, top, right, bottom), in pixels:
    (x, y, width, height)."""
    height, width = shape
    left, top, right, bottom = fractions
    return left * width, top * height, (right - left) * width, (bottom - top) * height


def _class_masks(boxes: dict, shape) -> dict[str, np.ndarray]:
    """A mask per class, the ellipse inside its box (a stand-in for the animal's true
    outline; where two overlap, the first class keeps the pixel), and the background."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    masks, taken = {}, np.zeros(shape, bool)
    for name, (x, y, w, h) in boxes.items():
        inside = ((cols - x - w / 2) / (w / 2)) ** 2 + ((rows - y - h / 2) / (h / 2)) ** 2 <= 1
        masks[name] = inside & ~taken  # one class per pixel
        taken |= inside
    masks["background"] = ~taken
    return masks


def _tint(photo, masks_and_colours) -> np.ndarray:
    """The photo (0..1) with each mask's pixels blended with its colour."""
    shown = photo.astype(float) / 255
    for mask, colour in masks_and_colours:
        shown[mask] = (1 - TINT) * shown[mask] + TINT * np.array(colour)
    return shown


def _tag(ax, x, y, text: str, colour, **where) -> None:
    """White text on a patch of ``colour``."""
    box = {"facecolor": colour, "edgecolor": "none", "pad": 1.5}
    ax.text(x, y, text, color="white", fontsize=8, bbox=box, **where)


def _box(ax, xywh, colour, label: str) -> None:
    x, y, w, h = xywh
    ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=colour, lw=2.5))
    _tag(ax, x + 5, y + 5, label, colour, va="top")


def _segmentation_panels(ax_classes, ax_instances, photo, boxes: dict, colours: dict) -> None:
    """Panels 4 and 5: the photo tinted with a mask per class (and the background), then
    with a mask per animal, each labelled."""
    masks = _class_masks(boxes, photo.shape[:2])
    ax_classes.imshow(_tint(photo, [(masks[name], colour) for name, colour in colours.items()]))
    legend = [Patch(color=colour, alpha=TINT, label=name) for name, colour in colours.items()]
    ax_classes.legend(
        handles=legend,
        loc="upper center",
        bbox_to_anchor=(0.5, 0),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    ax_classes.set_title("4. Semantic segmentation\n(a class per pixel)")
    instances = {
        f"{name} 1": (name, INSTANCE_COLOURS[i % len(INSTANCE_COLOURS)])
        for i, name in enumerate(boxes)
    }
    ax_instances.imshow(
        _tint(photo, [(masks[name], colour) for name, colour in instances.values()])
    )
    for instance, (name, colour) in instances.items():
        x, y, w, h = boxes[name]
        _tag(ax_instances, x + w / 2, y + h / 2, instance, colour, ha="center")
    ax_instances.set_title("5. Instance segmentation\n(a mask per animal)")


def understanding_levels_figure(
    photo, regions: dict, *, top_name: str, top_probability: float, box, title=None
) -> plt.Figure:
    """The photo five times: classification (``top_name``, ``top_probability``), the
    computed ``box`` (left, top, right, bottom, in pixels), then boxes, class masks and
    instance masks drawn from the hand-placed ``regions`` (name: fractions of the photo,
    (left, top, right, bottom))."""
    photo = np.asarray(photo)
    boxes = {name: _pixels(fractions, photo.shape[:2]) for name, fractions in regions.items()}
    colours = {name: CLASS_COLOURS[i % len(CLASS_COLOURS)] for i, name in enumerate(regions)}
    colours["background"] = BACKGROUND_COLOUR
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.6))
    for ax in axes[:3]:
        ax.imshow(photo)
    axes[0].set_title(f"1. Classification\n{top_name} ({top_probability:.1%})")
    left, top, right, bottom = box
    _box(axes[1], (left, top, right - left, bottom - top), NETWORK_COLOUR, top_name)
    axes[1].set_title("2. Classification + localisation\n(Grad-CAM box, computed)")
    for name, xywh in boxes.items():
        _box(axes[2], xywh, colours[name], name)
    axes[2].set_title("3. Object detection\n(every object, a box each)")
    _segmentation_panels(axes[3], axes[4], photo, boxes, colours)
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)

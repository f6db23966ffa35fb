"""What every figure of the book shares: its colours, and how a builder hands the figure back.

Every builder draws a new figure with pyplot (which switches a notebook's
inline display on), then passes it through :func:`finish`: the figure is
closed, so that pyplot forgets it, and returned. A notebook cell that ends
with the call shows it exactly once; a selector draws it into a picture; a
script can ``fig.savefig(...)`` it. Nothing is shown twice, and nothing stays
open in pyplot.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# Colours of the windows in the grid diagrams, one per window.
WINDOW_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
RIGHT_COLOUR = "tab:green"  # titles of right predictions
WRONG_COLOUR = "tab:red"  # titles and frames of wrong ones


def finish(fig: plt.Figure) -> plt.Figure:
    """Close the figure in pyplot (so a notebook shows it once) and return it."""
    plt.close(fig)
    return fig


def as_image(image) -> np.ndarray:
    """An array imshow shows faithfully: uint8 as is, floats clipped to [0, 1]."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0.0, 1.0)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image

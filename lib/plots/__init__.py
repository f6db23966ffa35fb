"""Every figure of the book, drawn with matplotlib from the numbers the chapters compute.

One rule for all: a builder is named ``*_figure``, draws a new figure and
returns it closed in pyplot (:func:`lib.plots.style.finish`). A notebook cell
that ends with the call shows it exactly once; a selector
(:mod:`lib.selectors`) draws it into a picture; a script can
``fig.savefig(...)`` it. The computation lives elsewhere (:mod:`lib.convolution`,
:mod:`lib.visualize`, :mod:`lib.gradcam`): these modules only draw.

By subject, each module importable on its own, and every builder also here as
``plots.NAME``:

- :mod:`~lib.plots.diagrams` convolution, pooling and receptive fields, as
  number grids (chapters 1 and 2);
- :mod:`~lib.plots.images` images side by side, a photo, predictions on
  photos, a classifier's mistakes on digits, augmented versions of a photo;
- :mod:`~lib.plots.training` learning curves and the confusion matrix;
- :mod:`~lib.plots.maps` activations, filter patterns and Grad-CAM heatmaps
  (chapters 7 and 8);
- :mod:`~lib.plots.levels` the five levels of image understanding (chapter 9);
- :mod:`~lib.plots.style` the colours and :func:`~lib.plots.style.finish`
  that all of them share.
"""

from lib.plots.diagrams import (
    convolution_figure,
    kernel_output_figure,
    max_pool_figure,
    receptive_field_figure,
)
from lib.plots.images import (
    augmented_samples_figure,
    digit_grid_figure,
    dog_predictions_figure,
    images_figure,
    photo_figure,
    prediction_grid_figure,
)
from lib.plots.levels import understanding_levels_figure
from lib.plots.maps import (
    activation_figure,
    class_heatmaps_figure,
    gradcam_figure,
    heatmap_overlay_figure,
    heatmap_values_figure,
    overlays_figure,
    pattern_grid_figure,
)
from lib.plots.training import confusion_matrix_figure, learning_curves_figure

__all__ = [
    "activation_figure",
    "augmented_samples_figure",
    "class_heatmaps_figure",
    "confusion_matrix_figure",
    "convolution_figure",
    "digit_grid_figure",
    "dog_predictions_figure",
    "gradcam_figure",
    "heatmap_overlay_figure",
    "heatmap_values_figure",
    "images_figure",
    "kernel_output_figure",
    "learning_curves_figure",
    "max_pool_figure",
    "overlays_figure",
    "pattern_grid_figure",
    "photo_figure",
    "prediction_grid_figure",
    "receptive_field_figure",
    "understanding_levels_figure",
]

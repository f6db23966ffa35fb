"""Figures: the cats-versus-dogs prediction grid reads sigmoid outputs the right way."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from lib import plots  # noqa: E402


def test_dog_predictions_mark_the_wrong_ones():
    photos = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    figure = plots.plot_dog_predictions(photos, [0.9, 0.2, 0.4], [1, 1, 0], title="Three")
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0] == "dog (0.90)"
    assert titles[1].startswith("✗ cat (0.80)") and "is a dog" in titles[1]
    assert titles[2] == "cat (0.60)"
    assert figure.get_suptitle() == "Three: 2 of 3 right"

"""Figures: one rule for every builder, and what the chapters' figures show.

Every public function of ``lib.plots`` is named ``*_figure``, lives in one of
its modules and returns a figure that pyplot has already closed (a notebook
cell shows it once). The computation modules draw nothing. The sizes of the
figures chapters 7 to 9 draw are checked too: nbval compares a figure's text,
``<Figure size 900x450 with 2 Axes>``, with the reference notebooks.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lib import gradcam, plots, visualize  # noqa: E402

RNG = np.random.default_rng(0)
PHOTO = RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)
HEAT = RNG.random((7, 7)).astype(np.float32)
DIGITS = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)
HISTORY = {
    "accuracy": [0.5, 0.7],
    "val_accuracy": [0.5, 0.6],
    "loss": [1, 0.6],
    "val_loss": [1, 0.9],
}
REGIONS = {"dog": (0.05, 0.08, 0.52, 0.98), "cat": (0.50, 0.20, 0.95, 0.98)}


def levels(**options):
    return plots.understanding_levels_figure(
        PHOTO, REGIONS, top_name="tabby", top_probability=0.4234, box=(20, 3, 35, 25), **options
    )


# One call of every builder, on small inputs.
BUILDERS = {
    "convolution_figure": lambda: plots.convolution_figure(
        np.arange(16).reshape(4, 4), np.ones((3, 3))
    ),
    "kernel_output_figure": lambda: plots.kernel_output_figure(DIGITS[0], np.ones((3, 3))),
    "max_pool_figure": lambda: plots.max_pool_figure(np.arange(16).reshape(4, 4)),
    "receptive_field_figure": lambda: plots.receptive_field_figure(
        DIGITS[0], {"conv1": 3, "conv2": 5}, centre=(14, 14)
    ),
    "images_figure": lambda: plots.images_figure([DIGITS[0], PHOTO], ["a digit", "a photo"]),
    "photo_figure": lambda: plots.photo_figure(PHOTO, "cat.1502.jpg"),
    "prediction_grid_figure": lambda: plots.prediction_grid_figure(
        [PHOTO] * 2, [0, 1], [0, 0], ["cat", "dog"]
    ),
    "dog_predictions_figure": lambda: plots.dog_predictions_figure([PHOTO] * 2, [0.9, 0.2], [1, 0]),
    "augmented_samples_figure": lambda: plots.augmented_samples_figure(PHOTO, [PHOTO] * 4),
    "digit_grid_figure": lambda: plots.digit_grid_figure(DIGITS, [1, 2, 3], [7, 2, 3]),
    "learning_curves_figure": lambda: plots.learning_curves_figure(HISTORY),
    "confusion_matrix_figure": lambda: plots.confusion_matrix_figure(
        np.array([[50, 1], [3, 40]]), ["cat", "dog"]
    ),
    "activation_figure": lambda: plots.activation_figure(RNG.random((1, 6, 6, 8)), "conv1", 4),
    "pattern_grid_figure": lambda: plots.pattern_grid_figure(PHOTO[np.newaxis].repeat(4, 0), "t"),
    "heatmap_values_figure": lambda: plots.heatmap_values_figure(HEAT, title="raw"),
    "gradcam_figure": lambda: plots.gradcam_figure(PHOTO, HEAT),
    "heatmap_overlay_figure": lambda: plots.heatmap_overlay_figure(PHOTO, HEAT, title="tabby"),
    "overlays_figure": lambda: plots.overlays_figure(PHOTO, [HEAT, HEAT], ["a", "b"]),
    "class_heatmaps_figure": lambda: plots.class_heatmaps_figure(
        [PHOTO], ["cat.1502.jpg"], [[HEAT, HEAT]], ["cat", "dog"]
    ),
    "understanding_levels_figure": levels,
}


def test_every_builder_is_named_figure_and_checked_here():
    assert set(plots.__all__) == set(BUILDERS)
    assert all(name.endswith("_figure") for name in plots.__all__)
    assert all(getattr(plots, name).__module__.startswith("lib.plots.") for name in plots.__all__)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_builder_returns_its_figure_closed(name):
    plt.close("all")
    figure = BUILDERS[name]()
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == [], f"{name} left its figure open in pyplot"
    assert figure.axes


def test_the_computation_modules_draw_nothing():
    for module in (visualize, gradcam):
        assert [name for name in dir(module) if name.endswith("_figure")] == []
        assert "pyplot" not in inspect.getsource(module)


def test_every_figure_the_book_draws_is_a_plots_builder():
    """The chapters, the exercises and the tools call builders that exist, and no figure
    is drawn by ``visualize`` or ``gradcam`` any more."""
    root = Path(__file__).resolve().parent.parent
    paths = sorted((root / "book").glob("*.md")) + sorted((root / "tools").glob("*.py"))
    paths += sorted((root / "lib" / "exercises").glob("*.py")) + [root / "lib" / "selectors.py"]
    texts = [path.read_text() for path in paths]
    used = {name for text in texts for name in re.findall(r"(?<![\w.])plots\.(\w+)", text)}
    assert {"convolution_figure", "learning_curves_figure", "gradcam_figure"} <= used
    assert sorted(name for name in used if not hasattr(plots, name)) == []
    assert [
        m for text in texts for m in re.findall(r"(?:visualize|gradcam)\.\w+_figure", text)
    ] == []


def test_the_chapters_figures_keep_the_sizes_nbval_compares():
    photo = np.zeros((150, 150, 3), dtype=np.uint8)
    figures = {
        "<Figure size 300x300 with 1 Axes>": plots.photo_figure(photo, "cat.1502.jpg", size=3),
        "<Figure size 400x400 with 2 Axes>": plots.heatmap_values_figure(HEAT, title="raw"),
        "<Figure size 1050x380 with 3 Axes>": plots.gradcam_figure(photo, HEAT),
        "<Figure size 900x450 with 2 Axes>": plots.overlays_figure(photo, [HEAT] * 2, ["a", "b"]),
        "<Figure size 1700x360 with 5 Axes>": levels(),
    }
    assert {text: repr(figure) for text, figure in figures.items()} == {
        text: text for text in figures
    }


def test_dog_predictions_mark_the_wrong_ones():
    photos = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    figure = plots.dog_predictions_figure(photos, [0.9, 0.2, 0.4], [1, 1, 0], title="Three")
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0] == "dog (0.90)"
    assert titles[1].startswith("✗ cat (0.80)") and "is a dog" in titles[1]
    assert titles[2] == "cat (0.60)"
    assert figure.get_suptitle() == "Three: 2 of 3 right"


def test_gradcam_figures_name_their_panels():
    assert [ax.get_title() for ax in plots.gradcam_figure(PHOTO, HEAT, alpha=0.3).axes] == [
        "photo",
        "heatmap (7x7)",
        "overlay (alpha 0.3)",
    ]
    pair = plots.heatmap_overlay_figure(PHOTO, HEAT, title="tabby (12.0%)")
    assert [ax.get_title() for ax in pair.axes] == ["heatmap 7x7", "tabby (12.0%)"]
    overlays = plots.overlays_figure(PHOTO, [HEAT, HEAT], ["a", "b"], panel=5, title="Two")
    assert [ax.get_title() for ax in overlays.axes] == ["a", "b"]
    assert overlays.get_suptitle() == "Two"
    assert tuple(overlays.get_size_inches()) == (10, 5)
    # the overlay is the library's blend, shown as it is
    shown = overlays.axes[0].images[0].get_array()
    np.testing.assert_array_equal(shown, gradcam.overlay_heatmap(PHOTO, HEAT))


def test_class_heatmaps_one_row_per_photo():
    figure = plots.class_heatmaps_figure(
        [PHOTO, PHOTO], ["cat.1502.jpg", "dog.1502.jpg"], [[HEAT, HEAT]] * 2, ["cat", "dog"]
    )
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[:3] == [
        "cat.1502.jpg",
        "class 0 (cat), heatmap 7x7",
        "class 1 (dog), heatmap 7x7",
    ]
    assert titles[3] == "dog.1502.jpg"
    assert repr(figure) == "<Figure size 1000x700 with 6 Axes>"


def test_heatmap_values_are_written_in_their_cells():
    heatmap = np.array([[0.0, 0.25], [0.5, 1.0]])
    (ax, _colorbar) = plots.heatmap_values_figure(heatmap, title="raw").axes
    assert sorted(text.get_text() for text in ax.texts) == ["0.0", "0.2", "0.5", "1.0"]
    assert ax.get_title() == "raw"


def test_levels_of_understanding_give_each_pixel_one_class():
    figure = levels(title="Five levels")
    assert [ax.get_title().split("\n")[0] for ax in figure.axes] == [
        "1. Classification",
        "2. Classification + localisation",
        "3. Object detection",
        "4. Semantic segmentation",
        "5. Instance segmentation",
    ]
    assert figure.axes[0].get_title() == "1. Classification\ntabby (42.3%)"
    assert figure.get_suptitle() == "Five levels"
    assert [text.get_text() for text in figure.axes[2].texts] == ["dog", "cat"]
    legend = [text.get_text() for text in figure.axes[3].get_legend().get_texts()]
    assert legend == ["dog", "cat", "background"]
    assert [text.get_text() for text in figure.axes[4].texts] == ["dog 1", "cat 1"]


def test_where_the_drawn_animals_overlap_the_first_class_keeps_the_pixel():
    photo = RNG.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    figure = plots.understanding_levels_figure(
        photo, REGIONS, top_name="tabby", top_probability=0.5, box=(200, 80, 370, 290)
    )
    classes, instances = (ax.images[0].get_array() for ax in figure.axes[3:])

    def tinted(row, col, colour):
        return 0.5 * photo[row, col] / 255 + 0.5 * np.array(colour)

    np.testing.assert_allclose(classes[170, 205], tinted(170, 205, (0.12, 0.47, 0.71)))  # both
    np.testing.assert_allclose(classes[170, 300], tinted(170, 300, (1.0, 0.50, 0.05)))  # cat
    np.testing.assert_allclose(classes[0, 0], tinted(0, 0, (0.5, 0.5, 0.5)))  # background
    np.testing.assert_allclose(instances[170, 205], tinted(170, 205, (0.17, 0.63, 0.17)))
    np.testing.assert_allclose(instances[0, 0], photo[0, 0] / 255)  # no animal: untouched

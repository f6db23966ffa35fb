"""Chapter 4's exercises: the dense layer's size, labels from probabilities, reading the curves."""

from __future__ import annotations

import functools

import keras
import numpy as np

from lib import convolution, images, models
from lib.exercises.core import Choice, Code, Number, register

SIDE = 180  # the photo size the exercise asks about, in pixels


@functools.cache
def _convnet(side: int) -> keras.Sequential:
    """The chapter's convnet, built on the spot for side x side colour photos."""
    return models.cats_dogs_convnet((side, side, 3))


@functools.cache
def _chapter_side() -> int:
    """The photo side the chapter uses, the convnet builder's default."""
    return models.cats_dogs_convnet().input_shape[1]


def _dense_params(side: int) -> int:
    return _convnet(side).get_layer("dense").count_params()


def _dense_params_if(conv_padding: str, pool_padding: str) -> int:
    """The dense layer's parameters had the layers padded as given: the typical slips."""
    model = _convnet(SIDE)
    side, channels = SIDE, 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            side = convolution.output_size(side, layer.kernel_size[0], padding=conv_padding)
            channels = layer.filters
        elif isinstance(layer, keras.layers.MaxPooling2D):
            size = layer.pool_size[0]
            side = convolution.output_size(side, size, stride=size, padding=pool_padding)
    return convolution.dense_params(side * side * channels, model.get_layer("dense").units)


register(
    Number(
        id="dogs_vs_cats.dense_params",
        hint="follow the maps' side through the four stages, flatten, then count the weights.",
        solve=lambda: _dense_params(SIDE),
        mistakes={
            lambda: _dense_params(SIDE) - _convnet(SIDE).get_layer("dense").units: (
                "close: each of the 512 units also has a bias."
            ),
            lambda: _dense_params(_chapter_side()): (
                "that is the dense layer for 150 x 150 photos; larger photos leave larger "
                "maps to flatten."
            ),
            lambda: _dense_params_if("valid", "same"): (
                "look at the pooling layers again: when a side is odd, the leftover row and "
                "column are dropped, not pooled."
            ),
            lambda: _dense_params_if("same", "valid"): (
                "each 3 x 3 convolution without padding trims a pixel off every side."
            ),
        },
    )
)


def _probability_cases(seed: int = 4):
    """Sigmoid outputs the reader never saw: flat, and (n, 1) as model.predict returns."""
    rng = np.random.default_rng(seed)
    flat = rng.random(15)
    flat[[2, 9]] = 0.5  # exactly on the boundary
    column = rng.random((11, 1))
    column[4, 0] = 0.5
    return [flat, column, rng.random(1)]


def _test_predicted_labels(function) -> str | None:
    for probabilities in _probability_cases():
        expected = images.predicted_labels(probabilities)
        got = np.asarray(function(probabilities.copy()))
        if got.shape != expected.shape:
            return (
                f"for outputs of shape {probabilities.shape} your labels have shape "
                f"{got.shape}: return one label per photo, in a 1-D array."
            )
        if np.array_equal(got, expected):
            continue
        if np.array_equal(got, 1 - expected):
            return "your labels are the wrong way round: cats are 0 and dogs are 1."
        if np.array_equal(got, probabilities.ravel() >= 0.5):
            return "a probability of exactly 0.5 is not above 0.5: that photo counts as a cat."
        return (
            f"for outputs of shape {probabilities.shape} some labels are wrong: a photo is a "
            "dog (1) when its output is above 0.5, else a cat (0)."
        )
    return None


register(
    Code(
        id="dogs_vs_cats.predicted_labels",
        hint="compare each output with 0.5.",
        test=_test_predicted_labels,
    )
)

register(
    Choice(
        id="dogs_vs_cats.overfitting",
        hint="compare what the training curves and the validation curves do.",
        choices={
            "a": (
                "The model underfits: it needs more epochs to learn.",
                "an underfitting model does badly on its training photos too. Here the "
                "training accuracy keeps climbing, and more epochs only widen the gap.",
            ),
            "b": (
                "The model overfits: it learns details of its training photos that do not "
                "carry over to other photos.",
                "every epoch fits the training photos better, while the photos it has not "
                "learnt from gain nothing or get worse.",
            ),
            "c": (
                "The validation photos are harder than the training photos.",
                "both splits are drawn from the same collection of photos. And harder photos "
                "would not explain a gap that widens epoch after epoch.",
            ),
            "d": (
                "The learning rate is too large, so training is unstable.",
                "unstable training shows in the training curves too, as a loss that jumps "
                "about; here the training loss keeps falling.",
            ),
        },
        right="b",
    )
)

register(
    Choice(
        id="dogs_vs_cats.test_split",
        hint="think of what the validation accuracy is used for.",
        choices={
            "a": (
                "The validation accuracy is measured during training, the test accuracy on "
                "the finished model.",
                "the validation accuracy is measured after every epoch, the last one included, "
                "so it measures the finished model too.",
            ),
            "b": (
                "Choices made by watching the validation accuracy fit the model to the "
                "validation photos a little; photos that steered nothing measure it fairly.",
                "every decision taken on the validation score (how many epochs, which "
                "settings) favours what works on those particular photos.",
            ),
            "c": (
                "The test photos are larger than the others, closer to real use.",
                "every split is resized to the same input size, the one the network takes.",
            ),
            "d": (
                "Keras needs a third split to compute the accuracy.",
                "Keras computes accuracy on any labelled photos, the training ones included.",
            ),
        },
        right="b",
    )
)

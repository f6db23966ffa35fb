"""Chapter 8's exercises: a heatmap's size, Grad-CAM's weighting step, and reading heatmaps."""

from __future__ import annotations

from functools import cache

import numpy as np

from lib import gradcam, models
from lib.exercises.core import Choice, Code, Number, hidden_convnet, register, seeded_weights

SIZE = 224  # the photo side the heatmap question asks about


@cache
def _map_side(size: int, layer_name: str | None = None) -> int:
    """Side of a layer's feature maps in chapter 5's convnet (default: the Grad-CAM layer)."""
    model = models.cats_dogs_convnet((size, size, 3))
    layer_name = layer_name or gradcam.last_conv_layer_name(model)
    return int(model.get_layer(layer_name).output.shape[1])


register(
    Number(
        id="gradcam.heatmap_side",
        hint=(
            "follow the side through the layers up to the last convolution: a 3 x 3 "
            "convolution without padding loses 2 pixels, a 2 x 2 pooling halves (rounding down)."
        ),
        solve=lambda: _map_side(SIZE),
        mistakes={
            lambda: SIZE // 8: (
                "that only halves the side three times; each convolution without padding "
                "also loses 2 pixels."
            ),
            lambda: SIZE // 16: (
                "that divides by 16, as for VGG16's block5_conv3; chapter 5's convnet has "
                "three poolings before conv4, and its convolutions have no padding."
            ),
            lambda: _map_side(SIZE, "pool4"): (
                "that is the side after pool4; Grad-CAM reads the last convolution, before it."
            ),
            lambda: _map_side(SIZE, "pool3"): (
                "that is the side after pool3; conv4 comes after it and loses 2 more pixels."
            ),
        },
    )
)


def _hidden_models(seed: int = 5):
    """Two small convnets with seeded weights: three softmax classes, and one sigmoid unit
    whose class 0 gets no positive evidence anywhere (ReLU maps, positive dense weights)."""
    import keras
    from keras import layers

    zeros = {"kernel_initializer": "zeros"}  # the weights are set below, from a seeded rng
    softmax = hidden_convnet("hidden_softmax", side=14, classes=3, seed=seed)
    sigmoid = keras.Sequential(
        [
            keras.Input(shape=(9, 9, 3), name="image"),
            layers.Conv2D(5, (3, 3), activation="relu", name="conv", **zeros),
            layers.GlobalAveragePooling2D(name="average"),
            layers.Dense(1, activation="sigmoid", name="predictions", **zeros),
        ],
        name="hidden_sigmoid",
    )
    seeded_weights(sigmoid, seed + 1)
    kernel, bias = sigmoid.get_layer("predictions").get_weights()
    sigmoid.get_layer("predictions").set_weights([np.abs(kernel), bias])
    return softmax, sigmoid


@cache
def _weighting_cases(seed: int = 5) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(feature maps, gradients, the library's heatmap) for images and classes the reader
    never saw; the last case's heatmap is all zeros."""
    import tensorflow as tf

    softmax, sigmoid = _hidden_models(seed)
    rng = np.random.default_rng(seed)
    found = []
    for model, layer_name, class_index in [
        (softmax, "conv2", 0),
        (softmax, "conv2", 2),
        (softmax, "conv1", 1),
        (sigmoid, "conv", 1),
        (sigmoid, "conv", 0),
    ]:
        image = rng.uniform(size=model.input_shape[1:]).astype(np.float32)
        compute = gradcam.gradient_function(model, layer_name, True)
        features, gradients = compute(tf.constant(image[np.newaxis]), tf.constant(class_index))
        heatmap = gradcam.make_gradcam_heatmap(model, image, class_index, layer_name)
        found.append((np.asarray(features)[0], np.asarray(gradients)[0], heatmap))
    return found


def _relu_normalised(heatmap) -> np.ndarray:
    heatmap = np.maximum(heatmap, 0)
    return heatmap / heatmap.max() if heatmap.max() > 0 else heatmap


def _weighting_mistake(got, features, gradients) -> str:
    """The hint for a heatmap of the right shape with wrong values."""
    weighted = features @ gradients.mean(axis=(0, 1))
    if np.isnan(got).any():
        return "your heatmap holds NaN where no position speaks for the class: keep the zeros."
    if got.min() < -1e-6:
        return "your heatmap has negative values: keep only the positive part (ReLU)."
    if np.allclose(got, np.maximum(weighted, 0), atol=1e-4):
        return "the largest value should be 1: divide by the maximum (when it is above 0)."
    variants = {
        "max": _relu_normalised(features @ gradients.max(axis=(0, 1))),
        "pixelwise": _relu_normalised((features * gradients).sum(axis=-1)),
        "channels": _relu_normalised(features.sum(axis=-1) * gradients.mean(axis=-1)),
    }
    if np.allclose(got, variants["max"], atol=1e-4):
        return "a channel's weight is the mean of its gradient over the pixels, not the maximum."
    if np.allclose(got, variants["pixelwise"], atol=1e-4):
        return (
            "you weighted each pixel by its own gradient; Grad-CAM gives each channel one "
            "weight, its gradient averaged over all the pixels."
        )
    if np.allclose(got, variants["channels"], atol=1e-4):
        return "the weights should be one per channel: average over height and width, not channels."
    return "the values differ from Grad-CAM's: one weight per channel, weighted sum, ReLU, max 1."


def _test_weighting(function) -> str | None:
    for features, gradients, expected in _weighting_cases():
        got = np.asarray(function(features.copy(), gradients.copy()), dtype=np.float64)
        if got.shape != expected.shape:
            return (
                f"for feature maps of shape {features.shape} your heatmap has shape "
                f"{got.shape}: it needs one value per position (height, width)."
            )
        if not np.allclose(got, expected, atol=1e-4):
            return _weighting_mistake(got, features, gradients)
    return None


register(
    Code(
        id="gradcam.weighting",
        hint="one weight per channel, a weighted sum of the maps, then ReLU and normalise.",
        test=_test_weighting,
    )
)

register(
    Choice(
        id="gradcam.background",
        hint="think of a dog photographed indoors.",
        choices={
            "a": (
                "Nothing is wrong: the model is right, so its reasons are right too.",
                "No: a right answer can rest on the wrong evidence. A model that finds dogs "
                "by their lawns is right on lawns and wrong indoors.",
            ),
            "b": (
                "The model takes the background as evidence for dog, and may fail on a dog "
                "in another setting: right for the wrong reason.",
                "The heatmap shows where the evidence for the class lies; on the lawn, the "
                "model has learnt that lawns come with dogs, a shortcut its training photos "
                "allowed, and one that breaks on the first dog indoors.",
            ),
            "c": (
                "Grad-CAM fails on Sequential models, so the heatmap means nothing.",
                "No: on a Sequential model the forward pass is replayed layer by layer, and "
                "the heatmap is computed by the same recipe as on the ImageNet classifier.",
            ),
            "d": (
                "The colours are inverted: red marks where there is no evidence for dog.",
                "No: after the ReLU the heatmap keeps only the positions that raise the "
                "class's score; red (1) is the strongest evidence for the class, blue (0) none.",
            ),
        },
        right="b",
    )
)

register(
    Choice(
        id="gradcam.logit",
        hint="think of how a probability close to 1 changes when the features change.",
        choices={
            "a": (
                "Softmax and sigmoid cannot be differentiated, so there is no gradient of a "
                "probability.",
                "No: both are smooth functions, and training relies on their gradients.",
            ),
            "b": (
                "The logit gives a heatmap of a finer resolution.",
                "No: the heatmap has the height and width of the convolution layer's maps, "
                "whichever score is differentiated.",
            ),
            "c": (
                "A probability close to 1 is saturated: it barely moves when the features "
                "change, and its gradient can underflow to zero, leaving no heatmap.",
                "The softmax (or sigmoid) flattens out near 1, so the gradient of a confident "
                "prediction is tiny, and in 32-bit floats it can be exactly zero; the logit has "
                "no ceiling, and its gradient keeps the evidence.",
            ),
            "d": (
                "With the logit, the heatmap no longer needs the ReLU.",
                "No: a channel's weight can still be negative, and the weighted sum too; the "
                "ReLU keeps only the positions that speak for the class.",
            ),
        },
        right="c",
    )
)

"""Chapter 2's exercises: max pooling by hand, shifts, receptive fields, the cost of no pooling."""

from __future__ import annotations

import functools

import keras
import numpy as np

from lib import convolution, models
from lib.exercises.core import Choice, Code, Number, register


def _pool_cases(seed: int = 11):
    """Maps of odd shapes, pooling sizes, and the library's pooled maps, never shown."""
    rng = np.random.default_rng(seed)
    for shape, size in [((6, 6), 2), ((7, 9), 2), ((9, 8), 3), ((5, 11), 2), ((8, 6), 4)]:
        feature_map = rng.normal(size=shape)
        yield feature_map, size, convolution.max_pool2d(feature_map, size)


def _wrong_values(feature_map, size, got, expected) -> str:
    """Why a pooled map of the right shape holds wrong values."""
    rows, cols = got.shape
    blocks = feature_map[: rows * size, : cols * size].reshape(rows, size, cols, size)
    if np.allclose(got, blocks.mean(axis=(1, 3))):
        return "you average each window: max pooling keeps its largest value."
    if np.allclose(got, np.maximum(expected, 0)):
        return (
            "where every value of a window is negative your output is off: start from the "
            "window's own values, not from 0."
        )
    height, width = feature_map.shape
    return (
        f"on a {height} x {width} map with size {size} the shape is right but some values "
        "differ: each output is the largest value of one size x size block."
    )


def _test_max_pool(function) -> str | None:
    """Compare the reader's pooling with the library's on maps of odd shapes and sizes."""
    negative = -1.0 - np.random.default_rng(5).random((6, 4))
    cases = [*_pool_cases(), (negative, 2, convolution.max_pool2d(negative, 2))]
    for feature_map, size, expected in cases:
        got = np.asarray(function(feature_map.copy(), size))
        if got.shape != expected.shape:
            height, width = feature_map.shape
            return (
                f"for a {height} x {width} map and size {size} your output has shape "
                f"{got.shape}; the windows do not overlap, and a row or column left over at "
                "the bottom or right is dropped."
            )
        if not np.allclose(got, expected):
            return _wrong_values(feature_map, size, got, expected)
    return None


register(
    Code(
        id="pooling.max_pool",
        hint="cut the map into size x size blocks and keep the largest value of each.",
        test=_test_max_pool,
    )
)

register(
    Choice(
        id="pooling.shift",
        hint="think of the chapter's one-response example.",
        choices={
            "a": (
                "The pooled map never changes: max pooling makes the network blind to shifts.",
                "not always: the chapter's response moved from (0, 0) to (0, 2) changed the "
                "pooled map. Pooling gives some invariance to small shifts, not all.",
            ),
            "b": (
                "It stays the same if the response stays inside its 2 x 2 window, and changes "
                "if the response crosses into the next window.",
                "each window keeps its largest value wherever that value sits inside it, so a "
                "move within a window goes unseen, and a move across a boundary does not.",
            ),
            "c": (
                "It always moves one pixel to the right, like the feature map.",
                "that is what a convolution does: shift its input and its output shifts with "
                "it. A pooled map has one value per 2 x 2 window, so a one-pixel move inside a "
                "window does not show at all.",
            ),
            "d": (
                "It always changes, since every window's maximum is computed again.",
                "computed again, yes, but a window holding the same values has the same "
                "maximum, wherever the largest one sits inside it.",
            ),
        },
        right="b",
    )
)


@functools.cache
def _mnist() -> keras.Sequential:
    """The book's MNIST convnet, built once."""
    return models.mnist_convnet()


def _mnist_stack() -> list[tuple[int, int]]:
    """(kernel size, stride) of the MNIST convnet's layers, from the input up to conv3."""
    stack = []
    for layer in _mnist().layers:
        if isinstance(layer, keras.layers.Conv2D):
            stack.append((layer.kernel_size[0], layer.strides[0]))
        elif isinstance(layer, keras.layers.MaxPooling2D):
            stack.append((layer.pool_size[0], layer.strides[0]))
    return stack


@functools.cache
def _conv3_field() -> int:
    """The receptive field of one conv3 value of the MNIST convnet, in pixels."""
    return convolution.receptive_field(_mnist_stack())


def _convolutions_needed() -> int:
    """How many 3 x 3, stride-1 convolutions see at least as wide a window as conv3."""
    count = 1
    while convolution.receptive_field([(3, 1)] * count) < _conv3_field():
        count += 1
    return count


register(
    Number(
        id="pooling.convolutions_needed",
        hint="each 3 x 3 convolution widens the window by one pixel on every side.",
        solve=_convolutions_needed,
        mistakes={
            lambda: (_conv3_field() - 1) // 2: (
                "with that many the window is still a little narrower than conv3's."
            ),
            lambda: _conv3_field() // 3: (
                "a 3 x 3 convolution does not add 3 pixels to the window: its first layer sees "
                "3, and each one after adds one pixel on each side."
            ),
            _conv3_field: (
                "that is the width of conv3's window itself; the question asks how many "
                "convolutions it takes to see that much."
            ),
        },
    )
)


@functools.cache
def _without_pool2() -> keras.Sequential:
    """The MNIST convnet with its second pooling layer left out, built on the spot."""
    layers = [layer for layer in _mnist().layers if layer.name != "pool2"]
    copies = [type(layer).from_config(layer.get_config()) for layer in layers]
    return keras.Sequential(
        [keras.Input(shape=_mnist().input_shape[1:]), *copies], name="without_pool2"
    )


def _dense_params() -> int:
    return _without_pool2().get_layer("dense").count_params()


def _dense_units() -> int:
    return _without_pool2().get_layer("dense").units


def _dense_params_untrimmed() -> int:
    """The mistake of letting conv3 keep conv2's map size (no pixel trimmed off)."""
    height, width, _ = _without_pool2().get_layer("conv2").output.shape[1:]
    channels = _without_pool2().get_layer("conv3").filters
    return convolution.dense_params(height * width * channels, _dense_units())


register(
    Number(
        id="pooling.dense_without_pool2",
        hint="follow the map's side through each layer, flatten it, then count the dense weights.",
        solve=_dense_params,
        mistakes={
            lambda: _dense_params() - _dense_units(): "close: each unit also has a bias.",
            lambda: _mnist().get_layer("dense").count_params(): (
                "that is the dense layer of the convnet with pool2; without it the maps that "
                "reach Flatten are larger."
            ),
            _dense_params_untrimmed: "conv3 still trims one pixel off every side of its input.",
        },
    )
)

"""Chapter 3's exercises: preparing digits, a larger input, the error rate, why convnets win."""

from __future__ import annotations

import functools

import keras
import numpy as np

from lib import convolution, models
from lib.exercises.core import Choice, Code, Number, register


def _digit_batches(seed: int = 3):
    """Batches of random 'digits' as MNIST stores them (uint8, 0 to 255), never shown."""
    rng = np.random.default_rng(seed)
    for count in (5, 1, 12):
        batch = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        batch[0, 0, :2] = (0, 255)  # black and white are both there
        yield batch


def _test_prepare(function) -> str | None:
    for batch in _digit_batches():
        got = np.asarray(function(batch.copy()))
        expected = batch.reshape((-1, 28, 28, 1)).astype("float32") / 255
        if got.shape != expected.shape:
            return (
                f"for {len(batch)} digits your array has shape {got.shape}: the network wants "
                "one 28 x 28 image with one channel per digit."
            )
        if got.dtype != np.float32:
            return f"your array holds {got.dtype} numbers; the network takes float32."
        if np.allclose(got, batch.reshape(expected.shape)):
            return "the pixels still run from 0 to 255: scale them to 0...1."
        if np.allclose(got, batch.reshape(expected.shape) / 256):
            return "white (255) should become exactly 1."
        if not np.allclose(got, expected):
            return "the shape and type are right but the values are not: divide each pixel by 255."
    return None


register(
    Code(
        id="mnist.prepare",
        hint="add a channel axis, convert to float32 and scale the pixels.",
        test=_test_prepare,
    )
)


@functools.cache
def _convnet(side: int) -> keras.Sequential:
    """The MNIST convnet's layers, rebuilt on the spot for side x side grey images."""
    copies = [
        type(layer).from_config(layer.get_config()) for layer in models.mnist_convnet().layers
    ]
    return keras.Sequential([keras.Input(shape=(side, side, 1)), *copies], name=f"convnet_{side}")


def _params_with_flat_side(side: int) -> int:
    """The 28 x 28 convnet's parameters, had its last feature maps ``side`` x ``side``."""
    model = _convnet(28)
    dense = model.get_layer("dense")
    channels = model.get_layer("conv3").filters
    flat = convolution.dense_params(side * side * channels, dense.units)
    return model.count_params() - dense.count_params() + flat


def _flat_side(side: int, pool_padding: str) -> int:
    """The side of conv3's maps, pooling with ``pool_padding`` ("same" rounds up)."""
    for layer in _convnet(28).layers:
        if isinstance(layer, keras.layers.Conv2D):
            side = convolution.output_size(side, layer.kernel_size[0])
        elif isinstance(layer, keras.layers.MaxPooling2D):
            side = convolution.output_size(side, 2, stride=2, padding=pool_padding)
    return side


register(
    Number(
        id="mnist.padded_params",
        hint="follow the maps' side from 32 through every layer; only some counts depend on it.",
        solve=lambda: _convnet(32).count_params(),
        mistakes={
            lambda: _convnet(28).count_params(): (
                "that is the count for 28 x 28 digits. The convolutions keep theirs, but "
                "something after them sees a larger map."
            ),
            lambda: _params_with_flat_side(_flat_side(32, "same")): (
                "look at pool2 again: when a side is odd, the leftover row and column are "
                "dropped, not pooled."
            ),
        },
    )
)


def _probability_cases(seed: int = 9):
    """Softmax-like outputs and integer labels, with some of each row's top class wrong."""
    rng = np.random.default_rng(seed)
    for count, classes in [(40, 10), (7, 3), (25, 10)]:
        probabilities = rng.dirichlet(np.ones(classes), size=count)
        labels = probabilities.argmax(axis=1)
        wrong = rng.random(count) < 0.3
        labels[wrong] = rng.integers(0, classes, size=wrong.sum())
        yield probabilities, labels


def _test_error_rate(function) -> str | None:
    for probabilities, labels in _probability_cases():
        got = function(probabilities.copy(), labels.copy())
        if np.ndim(got) != 0:
            return "return a single number, the fraction of examples that are wrong."
        got = float(got)
        errors = np.sum(probabilities.argmax(axis=1) != labels)
        expected = errors / len(labels)
        if np.isclose(got, expected):
            continue
        if np.isclose(got, 1 - expected):
            return "that is the fraction right (the accuracy); the error is what is left."
        if np.isclose(got, errors):
            return "that is a number of mistakes: divide it by the number of examples."
        if np.isclose(got, 100 * expected):
            return "return a fraction between 0 and 1, not a percentage."
        return (
            f"on {len(labels)} examples of {probabilities.shape[1]} classes your rate is off: "
            "the prediction is the most probable class of each row."
        )
    return None


register(
    Code(
        id="mnist.error_rate",
        hint="find each row's most probable class, and count where it differs from the label.",
        test=_test_error_rate,
    )
)

register(
    Choice(
        id="mnist.why_convnet",
        hint="think of what a filter learns and where it can find it.",
        choices={
            "a": (
                "Its filters learn local patterns (a stroke, a curve) and find them wherever "
                "they appear, where a dense unit must learn a pattern at each position anew.",
                "one small filter slides over the whole digit, so what it learns in one place "
                "serves everywhere, with few weights.",
            ),
            "b": (
                "It trains for more epochs than the dense network.",
                "both follow exactly the same recipe: the same epochs, batch size, optimizer "
                "and learning rate.",
            ),
            "c": (
                "Only its last layer is a softmax, so only its outputs are probabilities.",
                "both networks end with the same 10-unit softmax layer.",
            ),
            "d": (
                "A network with fewer parameters always makes fewer errors on new data.",
                "a network too small cannot learn the task at all. What matters is how the "
                "parameters are used: a convnet's filters are shared over every position.",
            ),
        },
        right="a",
    )
)

"""Chapter 7's exercises: a deep receptive field, one layer's output, an ascent step, silence."""

from __future__ import annotations

import numpy as np

from lib import convolution, models, visualize
from lib.exercises.core import Choice, Code, Number, hidden_convnet, register


def _stack(upto: str) -> list[tuple[int, int]]:
    """(kernel size, stride) of chapter 5's convolution and pooling layers, up to ``upto``."""
    import keras

    stack = []
    for layer in models.cats_dogs_convnet().layers:
        if isinstance(layer, keras.layers.Conv2D):
            stack.append((layer.kernel_size[0], layer.strides[0]))
        elif isinstance(layer, keras.layers.MaxPooling2D):
            stack.append((layer.pool_size[0], layer.strides[0]))
        if layer.name == upto:
            return stack
    raise ValueError(f"chapter 5's convnet has no layer {upto!r}")


def _no_strides(stack: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The same kernels, as if every layer moved one pixel at a time."""
    return [(kernel, 1) for kernel, _ in stack]


register(
    Number(
        id="visualizing.receptive_field",
        hint=(
            "follow the window from the input up: each layer widens it by (kernel size - 1) "
            "steps, and a step is as many photo pixels as the product of the strides below."
        ),
        solve=lambda: convolution.receptive_field(_stack("conv4")),
        mistakes={
            lambda: convolution.receptive_field(_no_strides(_stack("conv4"))): (
                "that adds the kernels as if every layer moved one pixel at a time; after each "
                "pooling, one step of the layer above spans more photo pixels."
            ),
            lambda: convolution.receptive_field(_stack("pool4")): (
                "that is the window of pool4, one layer further; the question is about conv4."
            ),
            lambda: convolution.receptive_field(_stack("pool3")): (
                "that is the window of pool3, the layer below conv4; add conv4's own kernel."
            ),
        },
    )
)


def _tiny_sequential(seed: int = 7):
    """A small Sequential convnet with named layers and seeded weights, unseen by the reader."""
    return hidden_convnet("hidden_convnet", side=12, classes=2, seed=seed, pool_last=True)


def _layer_mistake(got, outputs: dict, names: list[str], asked: str) -> str | None:
    """A hint when ``got`` is another layer's output (or the input, or one image)."""
    position = names.index(asked)
    for other, value in outputs.items():
        if other != asked and got.shape == value.shape and np.allclose(got, value, atol=1e-5):
            if names.index(other) == position - 1:
                return f"for {asked!r} you returned what goes into it: run that layer too."
            if names.index(other) < position:
                return f"for {asked!r} you returned the output of an earlier layer ({other!r})."
            if other == names[-1]:
                return "you returned the model's prediction: stop at the named layer."
            return f"for {asked!r} you ran too far, to {other!r}: stop at the named layer."
    if got.shape == outputs[asked].shape[1:]:
        return "return the whole batch, one activation per image, not the first image only."
    return None


def _test_layer_output(function) -> str | None:
    model = _tiny_sequential()
    images = np.random.default_rng(3).uniform(size=(2, 12, 12, 3)).astype(np.float32)
    names = [layer.name for layer in model.layers]
    outputs = {"input": images, **visualize.layer_activations(model, images, names)}
    for asked in ("conv1", "pool1", "conv2"):
        got = np.asarray(function(model, asked, images))
        if got.shape == outputs[asked].shape and np.allclose(got, outputs[asked], atol=1e-5):
            continue
        mistake = _layer_mistake(got, outputs, ["input", *names], asked)
        if mistake:
            return mistake
        if got.shape != outputs[asked].shape:
            return (
                f"for the layer {asked!r} your array has shape {got.shape}, not the shape "
                "that layer outputs: did every layer before it run?"
            )
        return f"the shape is right for {asked!r} but the values differ: run every layer up to it."
    return None


register(
    Code(
        id="visualizing.layer_output",
        hint="run the images through the model's layers in order, up to the named one.",
        test=_test_layer_output,
    )
)


def _ascent_cases(seed: int = 11):
    """Batches of images and gradients whose scales differ from image to image."""
    rng = np.random.default_rng(seed)
    for shape, scales, step_size in [
        ((3, 6, 6, 3), (1e-3, 1.0, 50.0), 0.03),
        ((2, 5, 7, 3), (4.0, 0.02), 0.5),
    ]:
        images = rng.normal(size=shape).astype(np.float32)
        scale = np.asarray(scales, dtype=np.float32)[:, None, None, None]
        yield images, (rng.normal(size=shape) * scale).astype(np.float32), step_size


def _test_ascent_step(function) -> str | None:
    for images, gradients, step_size in _ascent_cases():
        step = step_size * np.asarray(visualize._normalised(gradients))
        got = np.asarray(function(images.copy(), gradients.copy(), step_size))
        if got.shape != images.shape:
            return f"for images of shape {images.shape} your result has shape {got.shape}."
        if np.allclose(got, images + step, atol=1e-5):
            continue
        whole_batch = np.sqrt(np.mean(np.square(gradients)))
        if np.allclose(got, images - step, atol=1e-5):
            return "your step goes downhill: ascent adds the gradient, to raise the activation."
        if np.allclose(got, step, atol=1e-5):
            return "return the images after the step, not the step alone."
        if np.allclose(got, images + step_size * gradients, atol=1e-5):
            return "the step is not normalised: divide each image's gradient by its RMS first."
        if np.allclose(got, images + step_size * gradients / whole_batch, atol=1e-5):
            return (
                "you normalised the batch as a whole: each image's gradient needs its own "
                "root-mean-square, or an image with small gradients barely moves."
            )
        return "the step's size is off: the RMS is the square root of the mean of the squares."
    return None


register(
    Code(
        id="visualizing.ascent_step",
        hint="scale each image's gradient to a root-mean-square of 1, then add step_size times it.",
        test=_test_ascent_step,
    )
)

register(
    Choice(
        id="visualizing.silent_channels",
        hint="think of what a deep filter looks for.",
        choices={
            "a": (
                "The filter is broken: training killed it, and it never responds to any photo.",
                "No: silence is counted on one photo. Nothing shows the channel is zero for "
                "every photo; most deep channels light up for the photos that hold their "
                "pattern.",
            ),
            "b": (
                "The filter looks for a specific pattern, such as a part or a texture, that "
                "this photo does not contain.",
                "A deep filter encodes a specific, abstract pattern; where it finds nothing "
                "its ReLU outputs 0, and most specific patterns are simply not in one photo.",
            ),
            "c": (
                "After four poolings the maps are too small to hold any value.",
                "No: a 7 x 7 map still holds 49 values, and pooling keeps the largest of each "
                "window; a map is zero only where the filter found nothing.",
            ),
            "d": (
                "The standardisation of the grids turned the channel grey; the raw values "
                "are not zero.",
                "No: the count is made on the raw activations, before any drawing; the "
                "standardisation only shows an all-zero channel as plain mid-grey.",
            ),
        },
        right="b",
    )
)

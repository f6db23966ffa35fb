"""Chapter 5's exercises: ImageDataGenerator as layers, labels that survive, dropout's scale."""

from __future__ import annotations

import math

import keras
import numpy as np

from lib import augmentation
from lib.exercises.core import Choice, Code, Number, register

# Argument values of ImageDataGenerator the reader never sees: rotation_range,
# width_shift_range, height_shift_range, zoom_range, horizontal_flip.
_GENERATOR_CASES = [
    (30, 0.1, 0.25, 0.15, True),
    (90, 0.3, 0.05, 0.1, False),
    (15, 0.2, 0.1, 0.3, True),
]
_GEOMETRIC = ("RandomRotation", "RandomTranslation", "RandomZoom")


def _expected_layers(rotation, width_shift, height_shift, zoom, flip) -> dict:
    """The library's translation of the arguments (without its shear), by layer type."""
    affine = augmentation.RandomAffine(
        rotation_degrees=rotation,
        width_shift=width_shift,
        height_shift=height_shift,
        shear=0.0,
        zoom=zoom,
        horizontal_flip=flip,
    )
    chain = augmentation.keras_layers(affine)
    return {type(layer).__name__: layer for layer in chain.layers if layer.name != "random_shear"}


def _layers_of(answer) -> list | None:
    """The layers of a list, a tuple or a Keras model (its input layer left out), else None."""
    if isinstance(answer, keras.Model):
        answer = answer.layers
    if not isinstance(answer, list | tuple):
        return None
    return [layer for layer in answer if not isinstance(layer, keras.layers.InputLayer)]


def _span(layer, axis: str) -> tuple[float, float] | None:
    """A layer's random range on one axis ("height", "width") or of its rotation ("factor")."""
    if axis == "factor":
        return tuple(float(value) for value in layer.factor)
    lower = getattr(layer, f"{axis}_lower", None)
    return None if lower is None else (float(lower), float(getattr(layer, f"{axis}_upper")))


def _same(got, expected, scale: float = 1.0) -> bool:
    return got is not None and np.allclose(got, np.multiply(expected, scale), atol=1e-6)


def _check_rotation(got, expected) -> str | None:
    got_span, span = _span(got, "factor"), _span(expected, "factor")
    if _same(got_span, span, 2 * math.pi):
        return "RandomRotation's factor is not in radians: it counts in fractions of a full turn."
    if not _same(got_span, span):
        return "the rotation range is off: rotation_range is in degrees, either way."
    return None


def _check_translation(got, expected) -> str | None:
    got_spans = (_span(got, "height"), _span(got, "width"))
    spans = (_span(expected, "height"), _span(expected, "width"))
    if _same(got_spans[0], spans[0]) and _same(got_spans[1], spans[1]):
        return None
    if _same(got_spans[0], spans[1]) and _same(got_spans[1], spans[0]):
        return "the shifts are swapped: RandomTranslation takes the height factor first."
    return "the shift ranges are off: each is a fraction of the image's height or width."


def _check_zoom(got, expected) -> str | None:
    if _span(got, "width") is None:
        return (
            "RandomZoom with only a height factor zooms both axes alike; zoom_range zooms "
            "each axis on its own, so give a width factor too."
        )
    if not all(_same(_span(got, axis), _span(expected, axis)) for axis in ("height", "width")):
        return "the zoom range is off: zoom_range is a fraction of the size, on each axis."
    return None


_CHECKS = {
    "RandomRotation": _check_rotation,
    "RandomTranslation": _check_translation,
    "RandomZoom": _check_zoom,
    "RandomFlip": lambda got, expected: (
        None
        if got.mode == expected.mode
        else "horizontal_flip mirrors left and right only: RandomFlip's mode is 'horizontal'."
    ),
}


def _compare(got_layers: list, expected: dict) -> str | None:
    """The first difference between the reader's layers and the expected ones, as a hint."""
    names = [type(layer).__name__ for layer in got_layers]
    for name in names:
        if name == "RandomFlip" and name not in expected:
            return "with horizontal_flip=False there should be no flip layer."
        if name not in expected:
            return f"a {name} layer is more than these arguments ask for."
    for name, layer in expected.items():
        if name not in names:
            return f"your list has no {name} layer, and these arguments ask for one."
        if names.count(name) > 1:
            return f"your list has several {name} layers: one takes all its ranges."
        hint = _CHECKS[name](got_layers[names.index(name)], layer)
        if hint:
            return hint
    for layer in got_layers:
        if type(layer).__name__ in _GEOMETRIC and layer.fill_mode != "nearest":
            return (
                f"{type(layer).__name__}'s fill_mode is '{layer.fill_mode}': set the course's "
                "'nearest' on every geometric layer."
            )
    return None


def _test_generator_layers(function) -> str | None:
    for case in _GENERATOR_CASES:
        answer = function(*case)
        got_layers = _layers_of(answer)
        if got_layers is None:
            return f"return a list of Keras layers (or a keras.Sequential), not {type(answer)}."
        hint = _compare(got_layers, _expected_layers(*case))
        if hint:
            return hint
    return None


register(
    Code(
        id="augmentation.generator_layers",
        hint="one preprocessing layer per transformation, as in the chapter's table.",
        test=_test_generator_layers,
    )
)

register(
    Choice(
        id="augmentation.road_signs",
        hint="which transformation turns one sign into a sign that means something else?",
        choices={
            "a": (
                "Rotations of up to 10 degrees",
                "a sign seen slightly tilted still means the same: cameras and posts lean.",
            ),
            "b": (
                "Shifts of up to 10% of the width and height",
                "a sign a little off-centre in the photo is still the same sign; shifts only "
                "teach the model not to rely on where it sits.",
            ),
            "c": (
                "Horizontal flips",
                "A mirrored 'turn left' arrow points right, and it would keep its label "
                "'turn left': the flip changes what the sign means. A cat in a mirror is "
                "still a cat; an arrow is not the same arrow.",
            ),
            "d": (
                "Zooms of up to 10%",
                "a sign seen from a little nearer or farther is still the same sign.",
            ),
        },
        right="c",
    )
)

register(
    Choice(
        id="augmentation.validation",
        hint="what is the validation accuracy meant to measure?",
        choices={
            "a": (
                "The preprocessing layers only work inside fit, not on a validation pipeline.",
                "they transform any batch they are called on with training=True, as the "
                "six augmented versions of one photo in this chapter show.",
            ),
            "b": (
                "The validation accuracy should measure the model on real photos, the same "
                "ones at every epoch.",
                "The model will be used on photos as they come, and the same untransformed "
                "photos at every epoch make the validation curve comparable from one epoch "
                "to the next.",
            ),
            "c": (
                "Augmenting them would leak the validation photos into training.",
                "the model never trains on validation batches, whatever they look like; "
                "augmenting them would change what is measured, not what is learnt.",
            ),
            "d": (
                "Augmented validation photos would always give a higher accuracy.",
                "transformed photos are, if anything, harder to classify. Either way "
                "the accuracy would no longer be measured on real photos.",
            ),
        },
        right="b",
    )
)

DROPOUT_RATE = 0.25


def _kept_value(rate: float = DROPOUT_RATE) -> float:
    """What a Keras Dropout layer, in training mode, makes of the inputs of 1 it keeps."""
    layer = keras.layers.Dropout(rate, seed=0)
    output = np.asarray(layer(np.ones((1, 1000), dtype="float32"), training=True))
    return float(output.max())


register(
    Number(
        id="augmentation.dropout_scale",
        hint=(
            "the inputs Dropout keeps are scaled so that the sum of all its outputs stays "
            "the same on average."
        ),
        solve=_kept_value,
        tolerance=0.01,
        mistakes={
            lambda: 1 - DROPOUT_RATE: (
                "that is the fraction of inputs kept; the kept ones are scaled up, so that "
                "the sum stays the same on average."
            ),
            lambda: 1 + DROPOUT_RATE: (
                "adding the rate does not keep the sum the same on average: what fraction of "
                "the inputs survives?"
            ),
            lambda: (
                1 / DROPOUT_RATE
            ): "that divides by the fraction dropped, not by the fraction kept.",
            lambda: 1.0: (
                "Keras scales during training, not at inference: the inputs it keeps come "
                "out larger than they went in."
            ),
        },
    )
)

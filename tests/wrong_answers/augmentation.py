"""Broken answers to chapter 5's code exercise: each must fail its check with a hint."""

import keras

layers = keras.layers


def _layers(rotation, translation, zoom, flip, fill_mode="nearest"):
    """Rotation factor, (height, width) shifts, (height, width) zoom and a flip mode or None."""
    steps = [
        layers.RandomRotation(rotation, fill_mode=fill_mode),
        layers.RandomTranslation(*translation, fill_mode=fill_mode),
        layers.RandomZoom(*zoom, fill_mode=fill_mode),
    ]
    return steps + ([layers.RandomFlip(flip)] if flip else [])


def right(rotation, width, height, zoom, flip):
    return _layers(rotation / 360, (height, width), (zoom, zoom), "horizontal" if flip else None)


def rotation_in_degrees(rotation, width, height, zoom, flip):
    return _layers(rotation, (height, width), (zoom, zoom), "horizontal" if flip else None)


def rotation_in_radians(rotation, width, height, zoom, flip):
    angle = rotation * 3.141592653589793 / 180
    return _layers(angle, (height, width), (zoom, zoom), "horizontal" if flip else None)


def shifts_swapped(rotation, width, height, zoom, flip):
    return _layers(rotation / 360, (width, height), (zoom, zoom), "horizontal" if flip else None)


def zoom_keeps_aspect(rotation, width, height, zoom, flip):
    return _layers(rotation / 360, (height, width), (zoom, None), "horizontal" if flip else None)


def always_flips(rotation, width, height, zoom, flip):
    return _layers(rotation / 360, (height, width), (zoom, zoom), "horizontal")


def flips_both_ways(rotation, width, height, zoom, flip):
    flip = "horizontal_and_vertical" if flip else None
    return _layers(rotation / 360, (height, width), (zoom, zoom), flip)


def default_fill(rotation, width, height, zoom, flip):
    flip = "horizontal" if flip else None
    return _layers(rotation / 360, (height, width), (zoom, zoom), flip, fill_mode="reflect")


def adds_rescaling(rotation, width, height, zoom, flip):
    return [layers.Rescaling(1 / 255), *right(rotation, width, height, zoom, flip)]


def two_translations(rotation, width, height, zoom, flip):
    steps = right(rotation, width, height, zoom, flip)
    return steps + [layers.RandomTranslation(height, 0.0, fill_mode="nearest")]


def no_zoom(rotation, width, height, zoom, flip):
    return right(rotation, width, height, zoom, flip)[:2]  # rotation and shifts only


def a_dictionary(rotation, width, height, zoom, flip):
    return {"rotation": layers.RandomRotation(rotation / 360)}


WRONG = {
    "augmentation.generator_layers": [
        rotation_in_degrees,
        rotation_in_radians,
        shifts_swapped,
        zoom_keeps_aspect,
        always_flips,
        flips_both_ways,
        default_fill,
        adds_rescaling,
        two_translations,
        no_zoom,
        a_dictionary,
    ],
}

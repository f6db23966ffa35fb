"""Broken answers to chapter 7's code exercises: each must fail its check with a hint."""

import numpy as np


def whole_model(model, layer_name, images):
    return np.asarray(model(images))


def one_layer_short(model, layer_name, images):
    x = images
    for layer in model.layers:
        if layer.name == layer_name:
            return np.asarray(x)
        x = layer(x)


def one_layer_too_far(model, layer_name, images):
    x, found = images, False
    for layer in model.layers:
        x = layer(x)
        if found:
            return np.asarray(x)
        found = layer.name == layer_name


def first_image_only(model, layer_name, images):
    x = images
    for layer in model.layers:
        x = layer(x)
        if layer.name == layer_name:
            return np.asarray(x)[0]


def only_the_named_layer(model, layer_name, images):
    return np.asarray(model.get_layer(layer_name)(images))


def descends(images, gradients, step_size):
    rms = np.sqrt(np.mean(gradients**2, axis=(1, 2, 3), keepdims=True))
    return images - step_size * gradients / rms


def not_normalised(images, gradients, step_size):
    return images + step_size * gradients


def batch_normalised(images, gradients, step_size):
    return images + step_size * gradients / np.sqrt(np.mean(gradients**2))


def the_step_alone(images, gradients, step_size):
    rms = np.sqrt(np.mean(gradients**2, axis=(1, 2, 3), keepdims=True))
    return step_size * gradients / rms


def by_the_largest(images, gradients, step_size):
    largest = np.abs(gradients).max(axis=(1, 2, 3), keepdims=True)
    return images + step_size * gradients / largest


WRONG = {
    "visualizing.layer_output": [
        whole_model,
        one_layer_short,
        one_layer_too_far,
        first_image_only,
        only_the_named_layer,
    ],
    "visualizing.ascent_step": [
        descends,
        not_normalised,
        batch_normalised,
        the_step_alone,
        by_the_largest,
    ],
}

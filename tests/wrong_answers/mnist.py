"""Broken answers to chapter 3's code exercises: each must fail its check with a hint."""

import numpy as np


def no_channel_axis(images):
    return images.astype("float32") / 255


def not_scaled(images):
    return images.reshape((-1, 28, 28, 1)).astype("float32")


def float64(images):
    return images.reshape((-1, 28, 28, 1)) / 255


def by_256(images):
    return images.reshape((-1, 28, 28, 1)).astype("float32") / 256


def accuracy(probabilities, labels):
    return np.mean(probabilities.argmax(axis=1) == labels)


def counts(probabilities, labels):
    return np.sum(probabilities.argmax(axis=1) != labels)


def percentage(probabilities, labels):
    return 100 * np.mean(probabilities.argmax(axis=1) != labels)


def wrong_axis(probabilities, labels):
    return np.mean(probabilities.max(axis=1) != labels)


def per_example(probabilities, labels):
    return probabilities.argmax(axis=1) != labels


WRONG = {
    "mnist.prepare": [no_channel_axis, not_scaled, float64, by_256],
    "mnist.error_rate": [accuracy, counts, percentage, wrong_axis, per_example],
}

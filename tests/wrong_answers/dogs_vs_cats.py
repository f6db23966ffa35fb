"""Broken answers to chapter 4's code exercise: each must fail its check with a hint."""

import numpy as np


def cats_are_one(probabilities):
    return (np.ravel(probabilities) <= 0.5).astype(int)


def half_is_a_dog(probabilities):
    return (np.ravel(probabilities) >= 0.5).astype(int)


def keeps_the_column(probabilities):
    return (np.asarray(probabilities) > 0.5).astype(int)


def argmax_of_one_column(probabilities):
    return np.asarray(probabilities).reshape(len(probabilities), -1).argmax(axis=1)


def rounds_up(probabilities):
    return np.ceil(np.ravel(probabilities)).astype(int)


WRONG = {
    "dogs_vs_cats.predicted_labels": [
        cats_are_one,
        half_is_a_dog,
        keeps_the_column,
        argmax_of_one_column,
        rounds_up,
    ],
}

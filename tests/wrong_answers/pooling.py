"""Broken answers to chapter 2's code exercise: each must fail its check with a hint."""

import numpy as np

from lib import convolution


def averages(feature_map, size):
    rows, cols = feature_map.shape[0] // size, feature_map.shape[1] // size
    blocks = feature_map[: rows * size, : cols * size].reshape(rows, size, cols, size)
    return blocks.mean(axis=(1, 3))


def keeps_leftovers(feature_map, size):
    rows, cols = -(-feature_map.shape[0] // size), -(-feature_map.shape[1] // size)
    output = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            output[i, j] = feature_map[i * size : (i + 1) * size, j * size : (j + 1) * size].max()
    return output


def overlapping_windows(feature_map, size):
    windows = np.lib.stride_tricks.sliding_window_view(feature_map, (size, size))
    return windows.max(axis=(-2, -1))


def starts_from_zero(feature_map, size):
    return np.maximum(convolution.max_pool2d(feature_map, size), 0)


def always_two(feature_map, size):
    return convolution.max_pool2d(feature_map, 2)


WRONG = {
    "pooling.max_pool": [
        averages,
        keeps_leftovers,
        overlapping_windows,
        starts_from_zero,
        always_two,
    ],
}

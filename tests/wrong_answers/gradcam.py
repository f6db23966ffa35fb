"""Broken answers to chapter 8's code exercise: each must fail its check with a hint."""

import numpy as np


def _normalised(heatmap):
    peak = heatmap.max()
    return heatmap / peak if peak > 0 else heatmap


def forgets_the_relu(features, gradients):
    heatmap = features @ gradients.mean(axis=(0, 1))
    return heatmap / np.abs(heatmap).max()


def not_normalised(features, gradients):
    return np.maximum(features @ gradients.mean(axis=(0, 1)), 0)


def nan_without_evidence(features, gradients):
    heatmap = np.maximum(features @ gradients.mean(axis=(0, 1)), 0)
    with np.errstate(invalid="ignore"):
        return heatmap / heatmap.max()


def averages_over_channels(features, gradients):
    weights = gradients.mean(axis=-1)
    return _normalised(np.maximum((features * weights[..., np.newaxis]).sum(axis=-1), 0))


def largest_gradient(features, gradients):
    return _normalised(np.maximum(features @ gradients.max(axis=(0, 1)), 0))


def pixel_by_pixel(features, gradients):
    return _normalised(np.maximum((features * gradients).sum(axis=-1), 0))


def sums_over_the_wrong_axis(features, gradients):
    return _normalised(np.maximum(features * gradients.mean(axis=(0, 1)), 0)).sum(axis=0)


def unweighted(features, gradients):
    return _normalised(np.maximum(features.mean(axis=-1), 0))


WRONG = {
    "gradcam.weighting": [
        forgets_the_relu,
        not_normalised,
        nan_without_evidence,
        averages_over_channels,
        largest_gradient,
        pixel_by_pixel,
        sums_over_the_wrong_axis,
        unweighted,
    ],
}

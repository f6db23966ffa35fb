"""Broken answers to chapter 1's code exercises: each must fail its check with a hint."""

import numpy as np

from lib import convolution


def ignores_stride(image, kernel, stride):
    return convolution.cross_correlate2d(image, kernel)


def flips_the_kernel(image, kernel, stride):
    return convolution.cross_correlate2d(image, kernel[::-1, ::-1], stride=stride)


def off_by_one_patch(image, kernel, stride):
    shifted = np.roll(image, 1, axis=1)
    return convolution.cross_correlate2d(shifted, kernel, stride=stride)


WRONG = {
    "convolution.strided": [ignores_stride, flips_the_kernel, off_by_one_patch],
    "convolution.vertical_edges": [
        convolution.KERNELS["edge"],  # responds to every edge
        np.ones((3, 3)),  # responds to a flat image
        np.zeros((3, 3)),  # responds to nothing
        np.array([[-1, 0, 1]]),  # not 3 x 3
    ],
}

"""Chapter 1's exercises: output sizes, parameter counts, a strided convolution, an edge kernel."""

from __future__ import annotations

import numpy as np

from lib import convolution
from lib.exercises.core import Code, Number, register

register(
    Number(
        id="convolution.output_size",
        hint="count the positions where the 5 x 5 kernel fits entirely, then keep every second.",
        solve=lambda: convolution.output_size(32, 5, stride=2, padding="valid"),
        mistakes={
            lambda: convolution.output_size(32, 5, stride=1): (
                "that is the size with a stride of 1; a stride of 2 keeps every second position."
            ),
            lambda: convolution.output_size(32, 5, stride=2, padding="same"): (
                "that is the size with 'same' padding; without padding the kernel must fit "
                "inside the image."
            ),
        },
    )
)

register(
    Number(
        id="convolution.deeper_params",
        hint="each filter is a 3 x 3 window through every one of its input's channels, plus "
        "one bias.",
        solve=lambda: convolution.conv2d_params(3, 32, 64),
        mistakes={
            lambda: convolution.conv2d_params(3, 32, 64) - 64: (
                "close: each of the 64 filters also has a bias."
            ),
            lambda: convolution.conv2d_params(3, 1, 64): (
                "that counts one input channel; the layer below gives 32 feature maps, and "
                "each filter covers all of them."
            ),
            lambda: convolution.conv2d_params(3, 3, 64): (
                "that counts the three colour channels of a photo; this layer's input is the "
                "32 feature maps of the layer below."
            ),
        },
    )
)


def _random_cases(seed: int = 7):
    """Images and kernels of odd shapes, and strides, that the reader never saw."""
    rng = np.random.default_rng(seed)
    for shape, k, stride in [((7, 9), 3, 2), ((10, 6), 2, 3), ((8, 8), 3, 1), ((11, 13), 4, 2)]:
        yield rng.normal(size=shape), rng.normal(size=(k, k)), stride


def _test_strided(function) -> str | None:
    for image, kernel, stride in _random_cases():
        expected = convolution.cross_correlate2d(image, kernel, stride=stride)
        got = np.asarray(function(image, kernel, stride))
        if got.shape != expected.shape:
            return (
                f"for a {image.shape[0]} x {image.shape[1]} image, a {len(kernel)} x "
                f"{len(kernel)} kernel and stride {stride} your output has shape {got.shape}; "
                "count the positions where the kernel fits, then keep every stride-th."
            )
        flipped = convolution.cross_correlate2d(image, kernel[::-1, ::-1], stride=stride)
        if np.allclose(got, flipped) and not np.allclose(got, expected):
            return "your function flips the kernel: deep learning's convolution does not."
        if not np.allclose(got, expected):
            return (
                "the shape is right but some values differ: each output is the sum of the "
                "element-wise product of the kernel with the patch at row*stride, col*stride."
            )
    return None


register(
    Code(
        id="convolution.strided",
        hint="each output is the sum of the kernel times the patch under it.",
        test=_test_strided,
    )
)


def _edge_images(size: int = 12):
    """A vertical edge, a horizontal edge and a flat image, brightness 0 and 1."""
    vertical = np.zeros((size, size))
    vertical[:, size // 2 :] = 1.0
    return vertical, vertical.T.copy(), np.full((size, size), 0.5)


def _test_vertical_kernel(kernel) -> str | None:
    kernel = np.asarray(kernel, dtype=float)
    if kernel.shape != (3, 3):
        return f"the kernel should be a 3 x 3 array, not one of shape {kernel.shape}."
    vertical, horizontal, flat = _edge_images()
    strength = {
        name: np.abs(convolution.cross_correlate2d(image, kernel)).max()
        for name, image in [("vertical", vertical), ("horizontal", horizontal), ("flat", flat)]
    }
    if strength["vertical"] < 1e-6:
        return "your kernel gives 0 on a vertical edge: weight the left and right columns."
    if strength["flat"] > 1e-6 * strength["vertical"]:
        return "your kernel responds to a flat grey image: make its weights sum to 0."
    if strength["horizontal"] > 1e-6 * strength["vertical"]:
        return "your kernel also responds to horizontal edges: make each row sum to 0."
    return None


register(
    Code(
        id="convolution.vertical_edges",
        hint="compare the pixels left of the centre with those right of it.",
        test=_test_vertical_kernel,
        function=False,
    )
)

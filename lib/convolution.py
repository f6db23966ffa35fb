"""Convolution and pooling arithmetic in plain NumPy (chapters 1 and 2).

These are reference implementations meant to be *read*: each one is a few
lines long and computes exactly what the corresponding Keras layer computes,
so a chapter can check a hand calculation against the library, and the tests
can check the library against these functions.

Conventions: images are 2-D arrays ``(height, width)`` and kernels small 2-D
arrays, except that ``cross_correlate2d`` also takes an image with channels,
``(height, width, channels)``, with a kernel ``(k, k, channels)``; ``padding``
is ``"valid"`` (no padding), ``"same"`` (Keras's padding, which keeps
``ceil(n / stride)`` outputs) or ``"full"`` (``k - 1`` zeros on every side, so
every partial overlap is computed).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PADDINGS = ("valid", "same", "full")

# Named 3x3 kernels for the kernel selector of chapter 1. Each one is applied
# by cross-correlation (no flip), as a Conv2D layer would apply it.
KERNELS: dict[str, np.ndarray] = {
    # Sums to 0: a flat region gives 0, a pixel unlike its neighbours stands out.
    "edge": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]) / 8,
    # The mean of the 3x3 neighbourhood: smooths noise and fine detail away.
    "blur": np.full((3, 3), 1 / 9),
    # The pixel plus its difference from its four neighbours: crisper edges.
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    # Horizontal gradient (brighter to the right is positive): vertical edges.
    "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    # Vertical gradient (brighter below is positive): horizontal edges.
    "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    # A diagonal gradient added to the pixel itself: a raised, relief look.
    "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=float),
}


def _check_padding(padding: str) -> None:
    if padding not in PADDINGS:
        raise ValueError(f"padding={padding!r} is not one of {', '.join(PADDINGS)}.")


def padding_amounts(n: int, k: int, stride: int = 1, padding: str = "valid") -> tuple[int, int]:
    """Zeros added before and after one axis of length ``n``.

    ``"same"`` follows Keras (and TensorFlow): just enough zeros for
    ``ceil(n / stride)`` outputs, the odd one (if any) going after, i.e. at
    the bottom or right. Reproducing this detail is what makes the NumPy
    version agree with ``Conv2D`` to the last digit, strides included.
    """
    _check_padding(padding)
    if padding == "valid":
        return 0, 0
    if padding == "full":
        return k - 1, k - 1
    total = max((math.ceil(n / stride) - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def output_size(n: int, k: int, stride: int = 1, padding: str = "valid") -> int:
    """Length of the output along an axis of length ``n`` for a ``k``-wide kernel.

    Without padding the kernel fits ``n - k + 1`` times, so each side loses
    ``k - 1``; a stride keeps only every ``stride``-th of those positions.
    """
    before, after = padding_amounts(n, k, stride, padding)
    return (n + before + after - k) // stride + 1


def pad2d(image: np.ndarray, k: int, stride: int = 1, padding: str = "valid") -> np.ndarray:
    """The image surrounded by the zeros a ``k`` x ``k`` kernel's padding adds."""
    image = np.asarray(image)
    rows = padding_amounts(image.shape[0], k, stride, padding)
    cols = padding_amounts(image.shape[1], k, stride, padding)
    return np.pad(image, (rows, cols))


def cross_correlate2d(
    image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "valid"
) -> np.ndarray:
    """Slide ``kernel`` over ``image``; each output is the sum of an element-wise product.

    This is what deep-learning libraries call a convolution (``Conv2D`` with
    one filter and no bias): the kernel is *not* flipped. An image with
    channels, ``(height, width, channels)``, takes a kernel ``(k, k, channels)``:
    each channel meets its own slice of the kernel, and the maps add up.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim == 3:  # one 2-D cross-correlation per channel, summed
        return sum(
            cross_correlate2d(image[:, :, c], kernel[:, :, c], stride, padding)
            for c in range(kernel.shape[2])
        )
    padded = pad2d(image, kernel.shape[0], stride, padding)
    # windows[r, c] is the patch under the kernel when its top-left corner
    # sits on padded[r, c]; the stride keeps every stride-th position.
    windows = sliding_window_view(padded, kernel.shape)[::stride, ::stride]
    return (windows * kernel).sum(axis=(-2, -1))


def max_pool2d(x: np.ndarray, size: int = 2) -> np.ndarray:
    """Keep the largest value of each ``size`` x ``size`` block (as ``MaxPooling2D``).

    The blocks do not overlap (the stride equals the size) and rows or columns
    left over at the bottom or right are dropped. Extra trailing axes, such
    as channels, are pooled independently.
    """
    x = np.asarray(x)
    rows, cols = x.shape[0] // size, x.shape[1] // size
    blocks = x[: rows * size, : cols * size].reshape(rows, size, cols, size, *x.shape[2:])
    return blocks.max(axis=(1, 3))


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Side of the input window that one output value of a stack of layers depends on.

    ``layers`` lists ``(kernel_size, stride)`` from the input up; a pooling
    layer counts as a kernel too. Each layer widens the window by
    ``kernel_size - 1`` steps of the layer below, and a step is as many input
    pixels as the product of the strides so far.
    """
    size, step = 1, 1
    for kernel_size, stride in layers:
        size += (kernel_size - 1) * step
        step *= stride
    return size


def dense_params(inputs: int, units: int) -> int:
    """Parameters of a ``Dense(units)`` layer: one weight per input per unit, plus biases."""
    return inputs * units + units


def conv2d_params(kernel_size: int, in_channels: int, filters: int) -> int:
    """Parameters of ``Conv2D(filters, kernel_size)``: one k x k x channels kernel and one
    bias per filter, whatever the size of the image it slides over."""
    return kernel_size * kernel_size * in_channels * filters + filters

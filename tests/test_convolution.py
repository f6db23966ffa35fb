"""The NumPy reference implementations agree with Keras, SciPy and the book's worked examples."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy import signal

from lib import convolution

PATCH = np.array([[3, 1, 1], [1, 0, 6], [2, 5, 7]])
KERNEL = np.array([[1, 0, 0], [1, 0, -1], [0, 0, -1]])


def keras_conv(image, kernel, stride, padding):
    """Output of a one-filter Conv2D whose weights are ``kernel`` and bias 0."""
    layer = keras.layers.Conv2D(1, kernel.shape, strides=stride, padding=padding, name="conv")
    layer.build((1, *image.shape, 1))
    layer.set_weights([kernel[:, :, None, None].astype("float32"), np.zeros(1, "float32")])
    return keras.ops.convert_to_numpy(layer(image[None, :, :, None].astype("float32")))[0, :, :, 0]


@pytest.mark.parametrize(
    ("shape", "k", "stride", "padding"),
    [
        ((6, 6), 3, 1, "valid"),
        ((6, 6), 3, 1, "same"),
        ((6, 6), 3, 2, "valid"),
        ((6, 6), 3, 2, "same"),
        ((9, 7), 3, 2, "same"),
        ((10, 11), 5, 3, "same"),
        ((8, 8), 2, 1, "same"),
    ],
)
def test_cross_correlate2d_matches_keras_conv2d(shape, k, stride, padding):
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=shape), rng.normal(size=(k, k))
    ours = convolution.cross_correlate2d(image, kernel, stride, padding)
    theirs = keras_conv(image, kernel, stride, padding)
    assert ours.shape == theirs.shape
    assert ours.shape[0] == convolution.output_size(shape[0], k, stride, padding)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("padding", "mode"), [("valid", "valid"), ("same", "same")])
def test_cross_correlate2d_matches_scipy_correlate2d(padding, mode):
    rng = np.random.default_rng(1)
    image, kernel = rng.normal(size=(12, 9)), rng.normal(size=(3, 3))
    ours = convolution.cross_correlate2d(image, kernel, padding=padding)
    np.testing.assert_allclose(ours, signal.correlate2d(image, kernel, mode=mode))


def test_full_padding_matches_scipy_full_mode():
    rng = np.random.default_rng(2)
    image, kernel = rng.normal(size=(7, 8)), rng.normal(size=(3, 3))
    ours = convolution.cross_correlate2d(image, kernel, padding="full")
    np.testing.assert_allclose(ours, signal.correlate2d(image, kernel, mode="full"))


def test_stride_keeps_every_other_position():
    rng = np.random.default_rng(3)
    image, kernel = rng.normal(size=(9, 9)), rng.normal(size=(3, 3))
    dense = convolution.cross_correlate2d(image, kernel)
    np.testing.assert_allclose(
        convolution.cross_correlate2d(image, kernel, stride=2), dense[::2, ::2]
    )


@pytest.mark.parametrize(("stride", "padding"), [(1, "valid"), (1, "same"), (2, "same")])
def test_cross_correlate2d_with_channels_matches_keras_conv2d(stride, padding):
    """An (H, W, C) image and a (k, k, C) kernel: Conv2D with C input channels, one filter."""
    rng = np.random.default_rng(6)
    image, kernel = rng.normal(size=(7, 8, 3)), rng.normal(size=(3, 3, 3))
    layer = keras.layers.Conv2D(1, (3, 3), strides=stride, padding=padding, name="conv_rgb")
    layer.build((1, *image.shape))
    layer.set_weights([kernel[:, :, :, None].astype("float32"), np.zeros(1, "float32")])
    theirs = keras.ops.convert_to_numpy(layer(image[None].astype("float32")))[0, :, :, 0]
    ours = convolution.cross_correlate2d(image, kernel, stride, padding)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    # the same as adding up one 2-D cross-correlation per channel
    per_channel = [
        convolution.cross_correlate2d(image[:, :, c], kernel[:, :, c], stride, padding)
        for c in range(3)
    ]
    np.testing.assert_allclose(ours, np.sum(per_channel, axis=0))


def test_convolve2d_is_cross_correlation_with_the_flipped_kernel():
    rng = np.random.default_rng(4)
    image, kernel = rng.normal(size=(8, 8)), rng.normal(size=(3, 3))
    flipped = kernel[::-1, ::-1]
    np.testing.assert_allclose(
        signal.convolve2d(image, kernel, mode="valid"),
        convolution.cross_correlate2d(image, flipped),
    )
    # and it differs from cross-correlation with the kernel as given
    assert not np.allclose(
        signal.convolve2d(image, kernel, mode="valid"),
        convolution.cross_correlate2d(image, kernel),
    )


def test_worked_example_values():
    """-9 for the first window; -1 with "same" padding; -3 in the corner of "full" padding."""
    image = np.zeros((6, 6), int)
    image[:3, :3] = PATCH
    assert convolution.cross_correlate2d(image, KERNEL)[0, 0] == -9
    assert convolution.cross_correlate2d(image, KERNEL).shape == (4, 4)
    same = convolution.cross_correlate2d(image, KERNEL, padding="same")
    assert same.shape == (6, 6)
    assert same[0, 0] == -1  # padded patch [[0,0,0],[0,3,1],[0,1,0]], whatever the rest
    full = convolution.cross_correlate2d(image, KERNEL, padding="full")
    assert full[0, 0] == -3  # padded patch [[0,0,0],[0,0,0],[0,0,3]]
    assert convolution.pad2d(image, 3, padding="full")[:3, :3].tolist() == [
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 3],
    ]


@pytest.mark.parametrize(
    ("n", "k", "stride", "padding", "expected"),
    [
        (6, 3, 1, "valid", 4),
        (28, 3, 1, "valid", 26),
        (6, 3, 1, "same", 6),
        (6, 3, 2, "same", 3),
        (6, 3, 2, "valid", 2),
        (7, 3, 2, "same", 4),
        (6, 3, 1, "full", 8),
    ],
)
def test_output_size(n, k, stride, padding, expected):
    assert convolution.output_size(n, k, stride, padding) == expected


def test_unknown_padding_is_refused():
    with pytest.raises(ValueError, match="valid, same, full"):
        convolution.output_size(6, 3, padding="causal")


@pytest.mark.parametrize("shape", [(4, 4), (26, 26, 3), (7, 9, 2)])
def test_max_pool2d_matches_keras(shape):
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape)
    batch = (x if x.ndim == 3 else x[:, :, None])[None].astype("float32")
    keras_out = keras.ops.convert_to_numpy(keras.layers.MaxPooling2D((2, 2))(batch))[0]
    ours = convolution.max_pool2d(x, 2)
    np.testing.assert_allclose(ours, keras_out if x.ndim == 3 else keras_out[:, :, 0], rtol=1e-6)


def test_receptive_field():
    assert convolution.receptive_field([(3, 1)] * 3) == 7
    assert convolution.receptive_field([(3, 1)]) == 3
    assert convolution.receptive_field([]) == 1
    # conv, pool, conv, pool, conv: the pooling doubles each later step
    assert convolution.receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]) == 18


def test_parameter_counts():
    assert convolution.dense_params(30_976, 512) == 15_860_224
    assert convolution.dense_params(30_976, 64) == 1_982_528
    assert convolution.dense_params(28 * 28, 512) == 401_920
    assert convolution.conv2d_params(3, 1, 32) == 320
    assert convolution.conv2d_params(3, 32, 64) == 18_496
    assert convolution.conv2d_params(3, 64, 64) == 36_928


def test_kernels_are_named_3x3_arrays():
    assert {"edge", "blur", "sharpen", "sobel_x", "sobel_y", "emboss"} <= set(convolution.KERNELS)
    for kernel in convolution.KERNELS.values():
        assert kernel.shape == (3, 3)
    edge = convolution.KERNELS["edge"]
    assert edge[1, 1] == 1 and np.allclose(edge[edge != 1], -1 / 8)
    assert edge.sum() == pytest.approx(0)
    assert convolution.KERNELS["blur"].sum() == pytest.approx(1)

"""Activations and filter patterns on tiny models (no trained weights, no data needed)."""

import lib  # noqa: F401, I001  (first: silences TensorFlow's banner)

import keras
import numpy as np
import pytest
from keras import layers

from lib import visualize


def tiny_layers() -> list:
    return [
        layers.Conv2D(4, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(5, 3, activation="relu", name="conv2"),
        layers.Flatten(name="flatten"),
        layers.Dense(1, activation="sigmoid", name="predictions"),
    ]


def tiny_sequential() -> keras.Sequential:
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((20, 20, 3), name="photo"), *tiny_layers()], name="tiny")


def tiny_functional() -> keras.Model:
    """The same layers and weights as :func:`tiny_sequential`, as a functional model."""
    inputs = keras.Input((20, 20, 3), name="photo")
    x = inputs
    for layer in tiny_layers():
        x = layer(x)
    model = keras.Model(inputs, x, name="tiny_functional")
    model.set_weights(tiny_sequential().get_weights())
    return model


def test_conv_and_pool_layers_in_order():
    assert visualize.conv_and_pool_layer_names(tiny_sequential()) == ["conv1", "pool1", "conv2"]


def test_activations_same_for_sequential_and_functional():
    image = np.random.default_rng(0).uniform(0, 1, (1, 20, 20, 3)).astype(np.float32)
    a = visualize.layer_activations(tiny_sequential(), image)
    b = visualize.layer_activations(tiny_functional(), image)
    assert list(a) == ["conv1", "pool1", "conv2"]
    assert {name: value.shape for name, value in a.items()} == {
        "conv1": (1, 18, 18, 4),
        "pool1": (1, 9, 9, 4),
        "conv2": (1, 7, 7, 5),
    }
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-6)


def test_unknown_layer_is_named():
    with pytest.raises(ValueError, match="'conv9' is not a layer.*conv1, pool1"):
        visualize.layer_activations(tiny_sequential(), np.zeros((1, 20, 20, 3)), ["conv9"])


def test_standardize_channel():
    channel = np.arange(16, dtype=np.float32).reshape(4, 4)
    image = visualize.standardize_channel(channel)
    assert image.dtype == np.uint8
    expected = np.clip((channel - channel.mean()) / channel.std() * 64 + 128, 0, 255)
    np.testing.assert_array_equal(image, expected.astype(np.uint8))
    assert (visualize.standardize_channel(np.zeros((3, 3))) == 128).all()  # silent: mid-grey


def test_activation_grid_has_16_per_row():
    activation = np.random.default_rng(1).normal(size=(5, 6, 20))
    grid = visualize.activation_grid(activation, per_row=16)
    assert grid.shape == (2 * 5 + 1, 16 * 6 + 15)
    assert grid.dtype == np.uint8
    assert (grid[5, :] == 255).all()  # the gap between the rows
    assert (grid[6:, 4 * 7 :] == 255).all()  # the second row holds only 4 tiles


def test_silent_channels():
    activation = np.ones((3, 3, 4))
    activation[..., 1] = 0
    assert visualize.silent_channels(activation) == 1


def test_deprocess_pattern():
    image = np.random.default_rng(2).normal(size=(10, 10, 3))
    shown = visualize.deprocess_pattern(image, border=2)
    assert shown.shape == (6, 6, 3) and shown.dtype == np.uint8
    assert abs(float(visualize.deprocess_pattern(image).mean()) - 127.5) < 2


def test_batched_patterns_match_the_one_at_a_time_way():
    model = tiny_sequential()
    options = {"size": 20, "steps": 5, "step_size": 0.1, "border": 1, "crop": 2}
    patterns = visualize.filter_patterns(model, "conv2", [3, 1], **options)
    assert patterns.shape == (2, 16, 16, 3) and patterns.dtype == np.uint8
    single = visualize.filter_pattern_one_at_a_time(model, "conv2", 3, **options)
    assert np.abs(single.astype(int) - patterns[0].astype(int)).max() <= 1


def test_ascent_raises_each_filter_activation():
    model = tiny_functional()
    extractor = visualize.feature_extractor(model, "conv1")
    start = visualize.grey_noise(2, 20) / 255
    filters = [2, 0]

    def own_filter_means(images):
        activation = np.asarray(extractor(images))[:, 1:-1, 1:-1, :]
        return [activation[i, ..., f].mean() for i, f in enumerate(filters)]

    raised = visualize.ascend(extractor, start, filters, steps=10, step_size=0.05, border=1)
    assert raised.shape == start.shape
    before, after = own_filter_means(start), own_filter_means(raised)
    assert all(a > b for a, b in zip(after, before, strict=True))


def test_filter_out_of_range():
    with pytest.raises(ValueError, match="4 filters"):
        visualize.filter_patterns(tiny_sequential(), "conv1", [4], size=20, steps=1)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ([], "non-empty list of filter numbers"),
        (3, "non-empty list of filter numbers"),
        ([-1], r"holds \[-1\].*numbered 0 to 3"),
        ([0.5], r"holds \[0.5\]"),
    ],
)
def test_filters_that_name_no_filter_are_refused(filters, message):
    with pytest.raises(ValueError, match=message):
        visualize.filter_patterns(tiny_sequential(), "conv1", filters, size=20, steps=1)


def test_one_at_a_time_refuses_minus_one_rather_than_taking_the_last_filter():
    with pytest.raises(ValueError, match=r"holds \[-1\].*numbered 0 to 3"):
        visualize.filter_pattern_one_at_a_time(tiny_sequential(), "conv1", -1, size=20, steps=1)


def test_a_layer_without_feature_maps_names_the_ones_with():
    with pytest.raises(ValueError, match="not feature maps.*conv1, pool1, conv2"):
        visualize.filter_patterns(tiny_functional(), "predictions", [0], size=20, steps=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 20, "crop": 10}, "crop=10 cuts more than a size-20 image"),
        ({"size": 20, "crop": 2, "border": 4}, "border=4 leaves nothing of the 7 x 7 feature"),
        ({"size": 32, "crop": 2}, "size=32, but the model takes 20 x 20 images"),
    ],
)
def test_sizes_that_leave_nothing_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        visualize.filter_patterns(tiny_sequential(), "conv2", [0], steps=1, **options)


def test_one_at_a_time_refuses_a_setting_it_does_not_have():
    with pytest.raises(TypeError, match="Unknown setting 'stride'; the settings are size, steps"):
        visualize.filter_pattern_one_at_a_time(tiny_sequential(), "conv1", 0, stride=2)

"""lib.augmentation: the Keras layers and the one-resampling RandomAffine."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from lib import augmentation

SIZE = 30


@pytest.fixture(scope="module")
def photos():
    """Four random 'photos', different from each other and from their mirror images."""
    return np.random.default_rng(0).random((4, SIZE, SIZE, 3), dtype=np.float32)


def transformed(photos, interpolation="nearest", **chosen):
    """The photos under one chosen transformation (the identity for what is not chosen)."""
    parameters = {"angle": 0, "shift_x": 0, "shift_y": 0, "shear": 0, "zoom_x": 1, "zoom_y": 1}
    parameters.update({"flip": 1}, **chosen)
    batch = {name: np.full(len(photos), value, "float32") for name, value in parameters.items()}
    transforms = augmentation.affine_transforms(batch, float(SIZE), float(SIZE))
    out = ops.image.affine_transform(
        photos, transforms, interpolation=interpolation, fill_mode="nearest"
    )
    return np.asarray(out)


def test_no_transformation_gives_the_photos_back(photos):
    np.testing.assert_array_equal(transformed(photos), photos)
    np.testing.assert_allclose(transformed(photos, "bilinear"), photos, atol=1e-6)


def test_each_transformation_moves_pixels_as_named(photos):
    np.testing.assert_array_equal(transformed(photos, flip=-1), photos[:, :, ::-1])
    # A quarter turn is exact, and turns the way Keras's RandomRotation turns.
    quarter = transformed(photos, angle=math.pi / 2)
    np.testing.assert_array_equal(quarter, np.rot90(photos, 1, axes=(1, 2)))
    keras_quarter = keras.layers.RandomRotation(
        (0.25, 0.25), fill_mode="nearest", interpolation="nearest"
    )(photos, training=True)
    np.testing.assert_array_equal(quarter, np.asarray(keras_quarter))
    # A shift of 3 pixels moves the content by 3 columns (or rows).
    shifted = transformed(photos, shift_x=3 / SIZE)
    np.testing.assert_array_equal(shifted[:, :, : SIZE - 3], photos[:, :, 3:])
    shifted = transformed(photos, shift_y=3 / SIZE)
    np.testing.assert_array_equal(shifted[:, : SIZE - 3], photos[:, 3:])
    # Zooming in by 2 about the centre reads the middle half of the photo.
    zoomed = transformed(photos, zoom_x=0.5, zoom_y=0.5)
    np.testing.assert_array_equal(zoomed[:, 1::2, 1::2][:, :7, :7], photos[:, 8:15, 8:15])


def test_shear_slants_about_the_centre(photos):
    sheared = transformed(photos, shear=6 / (SIZE - 1))
    middle = (SIZE - 1) // 2
    # The top row is read 3 pixels to one side, the bottom row 3 to the other.
    np.testing.assert_array_equal(sheared[:, 0, 3:20], photos[:, 0, 0:17])
    np.testing.assert_array_equal(sheared[:, -1, 3:20], photos[:, -1, 6:23])
    # Rows near the middle barely move.
    np.testing.assert_array_equal(sheared[:, middle, 5:25], photos[:, middle, 5:25])


def test_random_ranges_are_the_keras_layers_ranges():
    layer = augmentation.RandomAffine(seed=1)
    drawn = {name: np.asarray(value) for name, value in layer.sample_parameters(20_000).items()}
    limits = {
        "angle": (-math.radians(40), math.radians(40)),  # RandomRotation(40 / 360)
        "shift_x": (-0.2, 0.2),  # RandomTranslation(0.2, 0.2)
        "shift_y": (-0.2, 0.2),
        "shear": (-0.2, 0.2),  # RandomShear(x_factor=0.2)
        "zoom_x": (0.8, 1.2),  # RandomZoom(0.2, 0.2)
        "zoom_y": (0.8, 1.2),
    }
    for name, (low, high) in limits.items():
        values = drawn[name]
        assert low <= values.min() < low + 0.01 * (high - low), name
        assert high - 0.01 * (high - low) < values.max() <= high, name
        assert abs(values.mean() - (low + high) / 2) < 0.02 * (high - low), name
    assert set(np.unique(drawn["flip"])) == {-1.0, 1.0}
    assert abs(np.mean(drawn["flip"] == -1) - 0.5) < 0.02  # mirrored half of the time
    assert not np.allclose(drawn["zoom_x"], drawn["zoom_y"])  # each axis on its own


def test_random_affine_only_while_training(photos):
    augment = augmentation.pipeline(seed=3)
    assert [layer.name for layer in augment.layers] == ["random_affine"]
    np.testing.assert_array_equal(np.asarray(augment(photos, training=False)), photos)
    same = np.repeat(photos[:1], 4, axis=0)
    out = np.asarray(augment(same, training=True))
    assert out.shape == same.shape
    assert not np.allclose(out[0], same[0])
    assert not np.allclose(out[0], out[1])  # every image draws its own transformation


def test_keras_layers_translate_the_course_arguments(photos):
    layers = augmentation.keras_layers(augmentation.RandomAffine(seed=3))
    assert [layer.name for layer in layers.layers] == [
        "random_rotation",
        "random_translation",
        "random_shear",
        "random_zoom",
        "random_flip",
    ]
    assert layers.get_layer("random_rotation").get_config()["factor"] == (-40 / 360, 40 / 360)
    np.testing.assert_array_equal(np.asarray(layers(photos, training=False)), photos)
    assert not np.allclose(np.asarray(layers(photos, training=True)), photos)


@pytest.mark.parametrize("build", [augmentation.pipeline, augmentation.keras_layers])
def test_config_is_the_same_in_every_session(build):
    """The training recipe records the augmentation's config: Keras's numbering must not leak in."""
    first = build()
    first(np.zeros((1, 8, 8, 3), "float32"), training=True)
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])  # bumps Keras's name counters
    keras.Sequential([keras.layers.Dense(1)])(np.zeros((1, 4), "float32"))
    second = build()
    second(np.zeros((1, 8, 8, 3), "float32"), training=True)
    assert first.get_config() == second.get_config()


def test_a_model_with_the_augmentation_saves_and_loads(tmp_path, photos):
    model = keras.Sequential(
        [keras.Input((SIZE, SIZE, 3)), augmentation.pipeline(), keras.layers.Flatten()]
    )
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.layers[0].layers[0].get_config() == model.layers[0].layers[0].get_config()
    np.testing.assert_array_equal(loaded.predict(photos, verbose=0), photos.reshape(4, -1))

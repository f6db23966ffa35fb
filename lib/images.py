"""Image folders into arrays and ``tf.data`` pipelines.

The Dogs vs. Cats photos are few (a few thousand) and small, so every photo is
decoded and resized *once*, kept in memory as ``uint8`` (one byte per colour
value), and served from there by a ``tf.data`` pipeline that shuffles, batches,
rescales and (for training only) augments whole batches ahead of the
model's work. That keeps the input side far cheaper than the model.

A folder that holds a file which is not a readable image (a truncated
download, a text file, a corrupt JPEG) still loads: that file is skipped and
counted, and the loader says which ones it skipped. A class folder that is
missing or holds no readable image is an error that names the folder.

Main entry points:

- :func:`load_image` one photo as an RGB ``uint8`` array, resized;
- :func:`load_image_folder` a ``folder/<class>/<image>`` tree as an
  :class:`ImageFolder` (arrays, labels, class names, skipped files);
- :func:`make_dataset` / :meth:`ImageFolder.dataset` the ``tf.data`` pipeline;
- :func:`load_dogs_vs_cats` the book's Dogs vs. Cats splits, and
  :func:`load_test_photos` its 20 labelled test photos.

The random transformations that augment the training batches are in
:mod:`lib.augmentation`.

Why the pipelines switch tf.data's autotuning off: with it on, every
iterator starts a thread that re-plans the pipeline at doubling intervals
(10 ms, 20 ms, ... up to a minute). When Keras drops an epoch's iterator,
its destructor cancels that thread and waits for it to end, but the thread
sleeps on until its next planned re-run: the process sits idle for up to
the iterator's own age at every epoch's end. These pipelines have
nothing to tune (one map thread, a prefetch buffer), so they go without it
and every epoch runs at full speed, computing exactly the same batches.
``tools/bench_epoch_teardown.py`` measures both.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from lib import config
from lib.config import SEED

# What can go wrong while opening and decoding a file that is not a good image:
# PIL raises UnidentifiedImageError (an OSError) for non-images, OSError for
# truncated files, and ValueError or SyntaxError for some malformed headers.
UNREADABLE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


CATS_DOGS = ["cat", "dog"]  # the Dogs vs. Cats classes, in label order
SMOKE_PHOTOS_PER_CLASS = 5  # photos per class and split under the smoke budget


def predicted_labels(dog_probability) -> np.ndarray:
    """A cats-versus-dogs model's sigmoid outputs as labels: above 0.5 is a dog (1)."""
    return (np.asarray(dog_probability, dtype=float).ravel() > 0.5).astype(int)


def count_right(dog_probability, actual) -> int:
    """How many of the photos a cats-versus-dogs model's outputs label correctly."""
    return int(np.sum(predicted_labels(dog_probability) == np.asarray(actual)))


class UnreadableFolderError(ValueError):
    """A class folder that holds no readable image."""


def load_image(path, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """One image file as an RGB ``uint8`` array of shape ``(height, width, 3)``.

    ``image_size`` is ``(height, width)``; the photo is resized to it with
    bilinear interpolation (which, when shrinking, averages neighbouring
    pixels instead of dropping them). Raises an ``OSError`` (or another of
    :data:`UNREADABLE_ERRORS`) when the file is not a readable image, and a
    ``ValueError`` that says what is wanted for a wrong ``image_size``.
    """
    if image_size is not None:
        image_size = checked_image_size(image_size)
    with Image.open(path) as image:
        image = image.convert("RGB")  # decodes the whole file: truncation shows up here
        if image_size is not None and image.size != (image_size[1], image_size[0]):
            image = image.resize((image_size[1], image_size[0]), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def _try_load(path: Path, image_size) -> np.ndarray | str:
    """The image, or why it was skipped: ``"too large"`` or ``"unreadable"``."""
    try:
        return load_image(path, image_size)
    except Image.DecompressionBombError:
        return "too large"
    except UNREADABLE_ERRORS:
        return "unreadable"


def checked_image_size(image_size) -> tuple[int, int]:
    """``image_size`` as ``(height, width)``, or a ``ValueError`` that says what is wanted."""
    try:
        height, width = (int(side) for side in image_size)
    except (TypeError, ValueError):
        raise ValueError(
            f"image_size must be (height, width), e.g. (150, 150); got {image_size!r}"
        ) from None
    if height < 1 or width < 1 or (height, width) != tuple(image_size):
        raise ValueError(
            f"image_size must be two whole, positive numbers of pixels, e.g. (150, 150); "
            f"got {image_size!r}"
        )
    return height, width


@dataclass
class ImageFolder:
    """The readable images of a ``folder/<class>/<image>`` tree, decoded once.

    ``images`` is ``uint8`` of shape ``(n, height, width, 3)``; ``labels`` the
    class index of each image (``int32``, into ``class_names``); ``paths`` the
    file of each image; ``skipped`` the files that could not be read.
    """

    directory: Path
    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    paths: list[Path]
    skipped: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        """How many images each class has."""
        return {
            name: int(np.sum(self.labels == index)) for index, name in enumerate(self.class_names)
        }

    def describe(self) -> str:
        """One line: the number of images, per class, and their size."""
        per_class = ", ".join(f"{count} {name}" for name, count in self.counts().items())
        height, width = self.images.shape[1:3]
        return (
            f"{self.directory.name}: {len(self)} images ({per_class}), "
            f"{height}x{width} RGB, {self.images.nbytes / 2**20:.0f} MiB in memory"
        )

    def dataset(self, batch_size: int, **options):
        """The ``tf.data`` pipeline over these images; see :func:`make_dataset`."""
        return make_dataset(self.images, self.labels, batch_size, **options)


def _class_folders(directory: Path, class_names) -> list[str]:
    if not directory.is_dir():
        raise FileNotFoundError(f"Image folder not found: {directory}")
    if class_names is None:
        class_names = sorted(
            entry.name
            for entry in directory.iterdir()
            if entry.is_dir() and not entry.name.startswith(".")
        )
        if not class_names:
            raise FileNotFoundError(
                f"{directory} holds no class folders: expected {directory}/<class>/<image files>."
            )
    for name in class_names:
        if not (directory / name).is_dir():
            raise FileNotFoundError(f"Class folder {name!r} is missing: {directory / name}")
    return list(class_names)


def load_image_folder(
    directory,
    image_size: tuple[int, int] = (150, 150),
    class_names=None,
    *,
    verbose: bool = True,
    workers: int | None = None,
    per_class: int | None = None,
) -> ImageFolder:
    """Decode every image of ``directory/<class>/`` once, resized to ``image_size``.

    ``class_names`` (default: the sub-folders, sorted) fixes the label order:
    the i-th name gets label i. Every non-hidden file of a class folder is
    tried (only the first ``per_class`` by name, when given); files that are
    not readable images are skipped, counted and listed
    (``verbose`` prints a note). A missing class folder raises
    ``FileNotFoundError``; a class folder without a single readable image
    raises :class:`UnreadableFolderError`; both name the folder.
    """
    directory = Path(directory)
    image_size = checked_image_size(image_size)
    _check_class_names(class_names)
    _check_per_class(per_class)
    class_names = _class_folders(directory, class_names)
    paths, labels = _class_files(directory, class_names, per_class)

    # PIL releases the GIL while it decodes, so threads decode in parallel.
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        decoded = list(pool.map(lambda path: _try_load(path, image_size), paths))

    keep = [i for i, image in enumerate(decoded) if not isinstance(image, str)]
    reasons = {paths[i]: image for i, image in enumerate(decoded) if isinstance(image, str)}
    kept_labels = np.asarray([labels[i] for i in keep], dtype=np.int32)
    _check_every_class_kept(directory, class_names, kept_labels)
    if reasons and verbose:
        _report_skipped(directory, reasons)
    height, width = image_size
    images = (
        np.stack([decoded[i] for i in keep])
        if keep
        else np.zeros((0, height, width, 3), dtype=np.uint8)
    )
    return ImageFolder(
        directory=directory,
        images=images,
        labels=kept_labels,
        class_names=class_names,
        paths=[paths[i] for i in keep],
        skipped=list(reasons),
    )


def _check_class_names(class_names) -> None:
    """Refuse a name given twice (two labels would share one folder's photos), and a
    single string, which would read as one class per letter."""
    if isinstance(class_names, str):
        raise ValueError(
            f"class_names must be a list of folder names, e.g. ['cats', 'dogs']; "
            f"got {class_names!r}"
        )
    if class_names is not None and len(set(class_names)) != len(class_names):
        repeated = sorted({name for name in class_names if list(class_names).count(name) > 1})
        raise ValueError(
            f"class_names names {', '.join(map(repr, repeated))} more than once: each class "
            f"needs a folder of its own, e.g. ['cats', 'dogs']; got {list(class_names)}"
        )


def _check_per_class(per_class) -> None:
    """Refuse what a slice would quietly misread (``-1``: every file but the last)."""
    if per_class is None:
        return
    try:
        count = operator.index(per_class)
    except TypeError:
        count = 0
    if count < 1 or isinstance(per_class, bool):
        raise ValueError(
            f"per_class must be a whole number of files per class, at least 1 (e.g. 100), "
            f"or None for every file; got {per_class!r}"
        )


def _class_files(directory: Path, class_names: list[str], per_class) -> tuple[list, list]:
    """The files to try, in label order and by name, and the label of each."""
    paths: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(class_names):
        files = sorted(
            entry
            for entry in (directory / name).iterdir()
            if entry.is_file() and not entry.name.startswith(".")
        )
        if not files:
            raise UnreadableFolderError(f"Class folder {name!r} is empty: {directory / name}")
        files = files[:per_class]
        paths += files
        labels += [index] * len(files)
    return paths, labels


def _check_every_class_kept(directory: Path, class_names: list[str], kept_labels) -> None:
    for index, name in enumerate(class_names):
        if not np.any(kept_labels == index):
            raise UnreadableFolderError(
                f"Class folder {name!r} holds no readable image: {directory / name}"
            )


def _report_skipped(directory: Path, reasons: dict[Path, str]) -> None:
    """One line per reason: how many files were skipped, and the first ten of them."""
    for reason, noun in (("unreadable", "unreadable file"), ("too large", "image")):
        files = [path for path, said in reasons.items() if said == reason]
        if not files:
            continue
        why = ""
        if reason == "too large":  # PIL refused it, so its limit is a number, not None
            why = f" too large to decode (over {Image.MAX_IMAGE_PIXELS * 2:,} pixels)"
        shown = ", ".join(str(path.relative_to(directory)) for path in files[:10])
        more = f" and {len(files) - 10} more" if len(files) > 10 else ""
        nouns = noun if len(files) == 1 else noun + "s"
        print(f"{directory.name}: skipped {len(files)} {nouns}{why}: {shown}{more}")


def load_dogs_vs_cats(
    image_size: tuple[int, int] = (150, 150),
    splits: Sequence[str] = ("train", "validation", "test"),
    *,
    verbose: bool = True,
) -> dict[str, ImageFolder]:
    """The Dogs vs. Cats subset's ``splits``, each an :class:`ImageFolder` decoded once.

    The photos come from :func:`lib.data.dogs_vs_cats_dir` (mirror, cache or
    verified download, extracted once); the class folders are ``cats`` and
    ``dogs``, so the labels are 0 for cats, 1 for dogs. The smoke budget
    takes only the first few photos of each class.
    """
    from lib import data

    root = data.dogs_vs_cats_dir()
    per_class = config.by_budget(ci=None, full=None, smoke=SMOKE_PHOTOS_PER_CLASS)
    return {
        split: load_image_folder(root / split, image_size, verbose=verbose, per_class=per_class)
        for split in splits
    }


def load_test_photos(image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """The 20 test photos the chapters predict on, as ``(photos, labels, paths)``.

    ``photos`` is a ``uint8`` batch resized to ``image_size``; ``labels`` is 0
    for a cat and 1 for a dog, read from the file name (``cat.1500.jpg``).
    """
    from lib import data

    paths = data.test_photo_paths()
    photos = np.stack([load_image(path, image_size) for path in paths])
    labels = np.array([CATS_DOGS.index(path.name.split(".")[0]) for path in paths])
    return photos, labels, paths


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    augment=None,
    rescale: float = 1 / 255,
    seed: int = SEED,
    autotune: bool = False,
):
    """A ``tf.data.Dataset`` of ``(image batch, label batch)`` for ``model.fit``.

    The arrays are already decoded, so the pipeline only has to shuffle (a
    new order every epoch when ``shuffle``), batch, convert to ``float32``
    and multiply by ``rescale``, then apply ``augment`` (a Keras layer or
    model called with ``training=True``, e.g. :func:`lib.augmentation.pipeline`)
    to whole batches. One batch at a time is prepared, on a background
    thread, and ``prefetch`` keeps the next ones ready while the model trains
    on the current one: preparing more batches in parallel would only take
    cores from the model. Labels come out as ``float32``, as binary
    cross-entropy expects. Never pass ``augment`` for validation or test
    data. ``autotune`` leaves tf.data's autotuning on (see :func:`steady`).
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.float32)))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)

    def prepare(batch, batch_labels):
        batch = tf.cast(batch, tf.float32) * rescale
        if augment is not None:
            batch = augment(batch, training=True)
        return batch, batch_labels

    dataset = dataset.map(prepare, num_parallel_calls=1)
    return steady(dataset.prefetch(tf.data.AUTOTUNE), autotune=autotune)


def steady(dataset, *, autotune: bool = False):
    """``dataset`` without tf.data's autotuning thread, whose teardown idles
    the process at the end of every epoch (see the module's docstring)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = autotune
    return dataset.with_options(options)

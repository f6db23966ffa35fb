"""Benchmark: the tf.data augmentation pipeline against the legacy ImageDataGenerator.

    python tools/bench_input_pipeline.py [--epochs 1] [--batch-size N]

Both feed the augmented Dogs vs. Cats model of chapter 5 (the convnet with
Dropout(0.5)) the same 2,000 training photos with the same random
transformations (rotation 40 degrees, shifts 0.2, shear, zoom 0.2,
horizontal flips, nearest fill, nearest-neighbour sampling):

- **tf.data**: ``lib.images`` decodes and resizes every photo once, keeps
  them in memory, and augments whole batches with Keras preprocessing layers
  on a background thread, prefetching ahead of the model;
- **legacy**: ``ImageDataGenerator.flow_from_directory`` (deprecated; Keras
  3 keeps it only under ``tf.keras``) reads and decodes every file again at
  every epoch and transforms one image at a time with SciPy.

For each it times (1) the input alone, iterating over one epoch of batches
without a model, and (2) one training epoch of the model (no validation).
A third line, the model on batches already in memory without augmentation,
is the floor: when the tf.data epoch is close to it, the model, not the
input, is the bottleneck. Epoch times are medians over ``--epochs`` epochs,
after a warm-up that traces the graphs.

This is a benchmark, not a test: the numbers depend on the machine and on
whatever else runs on it (on a shared two-core machine they vary by tens of
percent from one run to the next), and it takes a few minutes.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lib  # noqa: E402, F401  (first: it silences TensorFlow's start-up banner)
from lib import config, data, images, models, training  # noqa: E402

IMAGE_SIZE = (150, 150)


def timed_epochs(run_epoch, epochs: int) -> float:
    """The median wall time of ``epochs`` calls of ``run_epoch``."""
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        run_epoch()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fresh_model():
    import keras

    config.seed_everything()
    model = models.cats_dogs_convnet(IMAGE_SIZE + (3,), dropout=0.5)
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-4),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=training.STEPS_PER_EXECUTION,  # as the chapters train
    )
    return model


def legacy_generator(directory: Path, batch_size: int, shear_degrees: float):
    """flow_from_directory with the course's arguments; the shear is the layer's, in degrees."""
    import tensorflow as tf

    generator = tf.keras.preprocessing.image.ImageDataGenerator(
        rescale=1.0 / 255,
        rotation_range=40,
        width_shift_range=0.2,
        height_shift_range=0.2,
        shear_range=shear_degrees,
        zoom_range=0.2,
        horizontal_flip=True,
        fill_mode="nearest",
        interpolation_order=0,  # nearest-neighbour sampling, as the layers of lib.images
    )
    return generator.flow_from_directory(
        directory,
        target_size=IMAGE_SIZE,
        batch_size=batch_size,
        class_mode="binary",
        seed=config.SEED,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per measurement")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=training.cats_dogs_settings("augmented")["batch_size"],
        help="photos per batch (default: chapter 5's recipe under the active budget)",
    )
    args = parser.parse_args(argv)

    import numpy as np

    train_dir = data.dogs_vs_cats_dir() / "train"
    start = time.perf_counter()
    folder = images.load_image_folder(train_dir, IMAGE_SIZE)
    decode_seconds = time.perf_counter() - start
    print(folder.describe(), f"(decoded once in {decode_seconds:.1f} s)")
    steps = math.ceil(len(folder) / args.batch_size)
    augment = images.augmentation_pipeline()
    shear = max(augment.get_layer("random_shear").get_config()["x_factor"])
    shear_degrees = float(np.degrees(np.arctan(shear)))
    pipeline = folder.dataset(args.batch_size, shuffle=True, augment=augment)
    legacy = legacy_generator(train_dir, args.batch_size, shear_degrees)

    def iterate_pipeline():
        for _ in pipeline:
            pass

    def iterate_legacy():
        for index in range(len(legacy)):
            legacy[index]
        legacy.on_epoch_end()

    print(
        f"\nOne epoch = {len(folder):,} photos in {steps} batches of {args.batch_size}; "
        f"median of {args.epochs} epoch(s) after a warm-up."
    )
    results = {}
    iterate_pipeline()  # warm-up: traces the augmentation graph
    results["input tf.data"] = timed_epochs(iterate_pipeline, args.epochs)
    print(f"  input only, tf.data pipeline:        {results['input tf.data']:6.1f} s", flush=True)
    results["input legacy"] = timed_epochs(iterate_legacy, args.epochs)
    print(f"  input only, ImageDataGenerator:      {results['input legacy']:6.1f} s", flush=True)

    model = fresh_model()
    model.fit(pipeline.take(2), epochs=1, verbose=0)  # warm-up: traces the training step
    results["train tf.data"] = timed_epochs(
        lambda: model.fit(pipeline, epochs=1, verbose=0), args.epochs
    )
    print(f"  training epoch, tf.data pipeline:    {results['train tf.data']:6.1f} s", flush=True)

    model = fresh_model()
    model.fit(legacy, epochs=1, steps_per_epoch=2, verbose=0)
    results["train legacy"] = timed_epochs(
        lambda: model.fit(legacy, epochs=1, verbose=0), args.epochs
    )
    print(f"  training epoch, ImageDataGenerator:  {results['train legacy']:6.1f} s", flush=True)

    plain = folder.dataset(args.batch_size).cache()  # rescaled, not augmented, in memory
    model = fresh_model()
    for _ in plain:
        pass
    model.fit(plain.take(2), epochs=1, verbose=0)
    results["train floor"] = timed_epochs(
        lambda: model.fit(plain, epochs=1, verbose=0), args.epochs
    )
    print(f"  training epoch, no augmentation:     {results['train floor']:6.1f} s  (the floor)")

    print()
    print(
        f"Input alone: ImageDataGenerator / tf.data = "
        f"{results['input legacy'] / results['input tf.data']:.1f}x"
    )
    print(
        f"Training epoch: ImageDataGenerator / tf.data = "
        f"{results['train legacy'] / results['train tf.data']:.2f}x"
    )
    overhead = results["train tf.data"] / results["train floor"] - 1
    print(
        f"tf.data epoch vs. the model alone: {overhead:+.0%} "
        f"(augmentation competes with the model for the same {lib_cores()} CPU cores)"
    )
    return 0


def lib_cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())

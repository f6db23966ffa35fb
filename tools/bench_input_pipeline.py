"""Benchmark: the tf.data augmentation pipeline against the legacy ImageDataGenerator.

    python tools/bench_input_pipeline.py [--rounds 3] [--batch-size N]

All feed the augmented Dogs vs. Cats model of chapter 5 (the convnet with
Dropout(0.5)) the same 2,000 training photos with the same random
transformations (rotation 40 degrees, shifts 0.2, shear, zoom 0.2,
horizontal flips, nearest fill, bilinear sampling):

- **tf.data**: ``lib.images`` decodes and resizes every photo once, keeps
  them in memory, and augments whole batches with ``lib.augmentation``'s
  ``RandomAffine`` (one composed affine map per photo, one resampling) on a
  background thread, prefetching ahead of the model;
- **tf.data, Keras layers**: the same pipeline with Keras's five
  preprocessing layers instead, one resampling per geometric layer;
- **legacy**: ``ImageDataGenerator.flow_from_directory`` (deprecated; Keras
  3 keeps it only under ``tf.keras``) reads and decodes every file again at
  every epoch and transforms one image at a time with SciPy.

For each it times (1) the input alone, iterating over one epoch of batches
without a model, and (2) one training epoch of the model (no validation).
One more line, the model on batches already in memory without augmentation,
is the floor: when the tf.data epoch is close to it, the model, not the
input, is the bottleneck. Times are medians over ``--rounds`` rounds taken
in turns (each round times every kind once), after a warm-up that traces
the graphs.

This is a benchmark, not a test: the numbers depend on the machine and on
whatever else runs on it. A shared two-core machine can change speed by 2x
in the middle of a run, which is why the kinds take turns; compare the
ratios, not the seconds. With 3 rounds it takes 10 to 15 minutes.
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
from lib import augmentation, config, data, images, training  # noqa: E402

IMAGE_SIZE = (150, 150)


def interleaved_medians(runs: dict, rounds: int) -> dict[str, float]:
    """The median wall time of each of ``runs`` (name -> function), measured in turns.

    Every round times each run once, starting one further along each time
    (A B C, then B C A, ...), so that a machine whose speed drifts during the
    benchmark (a shared host does) slows every run alike instead of whichever
    happened to run last. Each round's times are printed as they come.
    """
    names = list(runs)
    times = {name: [] for name in names}
    for round_index in range(rounds):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
        print(
            f"  round {round_index + 1}: "
            + ", ".join(f"{name} {times[name][-1]:.1f} s" for name in names),
            flush=True,
        )
    return {name: statistics.median(values) for name, values in times.items()}


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
        fill_mode="nearest",  # and interpolation_order=1: bilinear, as RandomAffine
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
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed epochs of each kind, taken in turns"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=training.cats_dogs_recipe("augmented").batch_size,
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
    augment = augmentation.pipeline()
    shear = augment.get_layer("random_affine").get_config()["shear"]
    shear_degrees = float(np.degrees(np.arctan(shear)))
    pipeline = folder.dataset(args.batch_size, shuffle=True, augment=augment)
    layers_pipeline = folder.dataset(
        args.batch_size, shuffle=True, augment=augmentation.keras_layers()
    )
    legacy = legacy_generator(train_dir, args.batch_size, shear_degrees)

    def iterate_pipeline():
        for _ in pipeline:
            pass

    def iterate_layers_pipeline():
        for _ in layers_pipeline:
            pass

    def iterate_legacy():
        for index in range(len(legacy)):
            legacy[index]
        legacy.on_epoch_end()

    print(
        f"\nOne epoch = {len(folder):,} photos in {steps} batches of {args.batch_size}; "
        f"medians of {args.rounds} interleaved rounds, after a warm-up."
    )
    iterate_pipeline()  # warm-ups: trace the augmentation graphs
    iterate_layers_pipeline()
    print("Input only (iterating over one epoch of batches, no model):")
    results = interleaved_medians(
        {
            "input tf.data": iterate_pipeline,
            "input layers": iterate_layers_pipeline,
            "input legacy": iterate_legacy,
        },
        args.rounds,
    )

    plain = folder.dataset(args.batch_size).cache()  # rescaled, not augmented, in memory
    for _ in plain:
        pass
    feeds = {
        "train tf.data": pipeline,
        "train layers": layers_pipeline,
        "train legacy": legacy,
        "train floor": plain,
    }
    epochs = {}
    for name, feed in feeds.items():
        # chapter 5's model, in float32 (as the figures above were measured)
        model = training.cats_dogs_model(training.cats_dogs_recipe("augmented"), folder, "float32")
        training.use_steps_per_execution(model)
        # warm-up: traces the training step
        model.fit(feed, epochs=1, steps_per_epoch=2, verbose=0)
        epochs[name] = lambda model=model, feed=feed: model.fit(feed, epochs=1, verbose=0)
    print("One training epoch of the model:")
    results.update(interleaved_medians(epochs, args.rounds))

    print()
    labels = {
        "input tf.data": "input only, tf.data + RandomAffine",
        "input layers": "input only, tf.data + Keras layers",
        "input legacy": "input only, ImageDataGenerator",
        "train tf.data": "training epoch, tf.data + RandomAffine",
        "train layers": "training epoch, tf.data + Keras layers",
        "train legacy": "training epoch, ImageDataGenerator",
        "train floor": "training epoch, no augmentation (the floor)",
    }
    for name, label in labels.items():
        print(f"  {label + ':':<48}{results[name]:6.1f} s")
    print()
    for kind, label in (("input", "Input alone"), ("train", "Training epoch")):
        fused = results[f"{kind} tf.data"]
        legacy_ratio = results[f"{kind} legacy"] / fused
        layers_ratio = results[f"{kind} layers"] / fused
        print(
            f"{label}: ImageDataGenerator / RandomAffine = {legacy_ratio:.2f}x, "
            f"Keras layers / RandomAffine = {layers_ratio:.2f}x"
        )
    overhead = results["train tf.data"] / results["train floor"] - 1
    verdict = (
        "the model, not the input, is the bottleneck"
        if overhead < 0.05
        else f"augmentation competes with the model for the same {lib_cores()} CPU cores"
    )
    print(f"tf.data epoch vs. the model alone: {overhead:+.0%} ({verdict})")
    return 0


def lib_cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())

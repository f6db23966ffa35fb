"""Benchmark: batches per graph call (``steps_per_execution``), 1 against the book's.

    python tools/bench_steps_per_execution.py [--rounds 2]

Keras calls its compiled training step once per ``steps_per_execution``
batches; with 1, Python and Keras's bookkeeping (callbacks, metrics, the
iterator) run between every two batches. :func:`lib.training.fit_cached`
trains :data:`lib.training.STEPS_PER_EXECUTION` batches per call. This
times one epoch of chapter 3's MNIST convnet (938 batches of 64) and of
chapter 4's Dogs vs. Cats convnet (100 batches of 20) with both settings,
taking turns in this one process, through the book's pipelines (without
tf.data's autotuning, so no epoch carries the idle tail that
``tools/bench_epoch_teardown.py`` measures). The updates are the same
either way.

This is a benchmark, not a test: compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lib  # noqa: E402, F401  (first: it silences TensorFlow's start-up banner)
from lib import config, data, images, models, training  # noqa: E402


def mnist_epoch(steps_per_execution: int):
    """A function training one epoch of a fresh MNIST convnet, traced beforehand."""
    import keras

    (x_train, y_train), _ = data.load_mnist()
    x = (x_train[..., None] / 255).astype("float32")
    y = keras.utils.to_categorical(y_train, 10)
    config.seed_everything()
    model = models.mnist_convnet()
    model.compile(
        optimizer="rmsprop",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    pipeline = images.make_dataset(x, y, 64, shuffle=True, rescale=1)
    model.fit(pipeline.take(2 * steps_per_execution), verbose=0, shuffle=False)  # trace
    return lambda: model.fit(pipeline, verbose=0, shuffle=False)


def cats_dogs_epoch(steps_per_execution: int, train):
    """A function training one epoch of chapter 4's convnet, traced beforehand."""
    recipe = training.cats_dogs_recipe("from_scratch")
    model = training.cats_dogs_model(recipe, train, "float32")
    model.steps_per_execution = steps_per_execution
    pipeline = train.dataset(recipe.batch_size, shuffle=True)
    model.fit(pipeline.take(2 * steps_per_execution), verbose=0, shuffle=False)  # trace
    return lambda: model.fit(pipeline, verbose=0, shuffle=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    train = images.load_dogs_vs_cats((150, 150), ("train",), verbose=False)["train"]
    book = training.STEPS_PER_EXECUTION
    cases = {
        "MNIST convnet": {n: mnist_epoch(n) for n in (1, book)},
        "Dogs vs. Cats convnet": {n: cats_dogs_epoch(n, train) for n in (1, book)},
    }
    for name, runs in cases.items():
        times = {n: [] for n in runs}
        for round_index in range(args.rounds):
            order = list(runs) if round_index % 2 == 0 else list(runs)[::-1]
            for n in order:
                start = time.perf_counter()
                runs[n]()
                times[n].append(time.perf_counter() - start)
        medians = {n: statistics.median(values) for n, values in times.items()}
        every = "; ".join(f"{n}: " + " ".join(f"{t:.1f}" for t in v) for n, v in times.items())
        print(
            f"{name}: one epoch {medians[1]:.1f} s with 1 batch per call, {medians[book]:.1f} s "
            f"with {book}: {medians[1] / medians[book]:.2f} times as long "
            f"(every epoch, by batches per call: {every})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

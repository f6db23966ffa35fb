"""Benchmark: the Dogs vs. Cats convnets' epochs in float32 against mixed bfloat16.

    python tools/bench_precision.py [--rounds 3]

:func:`lib.config.training_precision` trains chapters 4 and 5's convnets in
mixed precision (``mixed_bfloat16``: each layer multiplies in bfloat16 and
keeps its weights in float32) where the CPU has bfloat16 instructions
(AVX-512 BF16 or AMX), and in float32 elsewhere. This measures what that
buys on the machine at hand.

For chapter 4's recipe (plain photos) and chapter 5's (augmented, with
dropout), two seeded models, one per precision, are built and compiled as
the chapters build them and their training step is traced; then they take
turns in this one process (float32, bfloat16, then bfloat16, float32, ...),
each timing one epoch of the chapter's work: 2,000 training photos, then
validation on 1,000. It prints each epoch's wall and CPU seconds, the median
ratio, and both models' accuracies after the timed epochs (which train the
same photos in the same order; only the arithmetic differs).

On a CPU without bfloat16 instructions TensorFlow emulates them, and mixed
precision is slower: the book does not use it there, and this script says so
before measuring.

Measured on a shared two-core AMD EPYC with AVX-512 BF16 (2 rounds): chapter
4's epoch took 13.6 s in mixed bfloat16 against 24.9 s in float32 (0.54 times
as long), chapter 5's 15.7 s against 25.3 s (0.62: the augmentation, which
runs in float32 on the CPU beside the model, is the same in both).

This is a benchmark, not a test: compare the ratios, not the seconds. With 3
rounds it takes about 5 minutes on two cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lib  # noqa: E402, F401  (first: it silences TensorFlow's start-up banner)
from lib import config, images, training  # noqa: E402

PRECISIONS = ("float32", "mixed_bfloat16")


def traced_models(kind: str, train):
    """One model per precision for ``kind``'s recipe, its training step traced."""
    recipe = training.cats_dogs_recipe(kind)
    models = {}
    for precision in PRECISIONS:
        model = training.cats_dogs_model(recipe, train, precision)
        training.use_steps_per_execution(model)
        model.fit(train.dataset(recipe.batch_size).take(2), epochs=1, verbose=0)
        models[precision] = model
    return recipe, models


def timed_epoch(model, recipe, train, validation) -> tuple[float, float, dict]:
    """Wall and CPU seconds of one epoch of the chapter's work, and its last metrics."""
    augment = recipe.augmentation()
    config.seed_everything()  # both precisions see the same photos in the same order
    start, cpu = time.perf_counter(), time.process_time()
    history = model.fit(
        train.dataset(recipe.batch_size, shuffle=True, augment=augment),
        validation_data=validation.dataset(recipe.batch_size),
        epochs=1,
        verbose=0,
    ).history
    return time.perf_counter() - start, time.process_time() - cpu, history


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="epochs per precision and recipe")
    args = parser.parse_args(argv)
    if not config.cpu_has_bfloat16():
        print("This CPU has no bfloat16 instructions: the book trains in float32 here.")
    splits = images.load_dogs_vs_cats((150, 150), ("train", "validation"), verbose=False)
    train, validation = splits["train"], splits["validation"]
    for kind in ("from_scratch", "augmented"):
        recipe, models = traced_models(kind, train)
        seconds = {precision: [] for precision in PRECISIONS}
        for round_ in range(args.rounds):
            order = PRECISIONS if round_ % 2 == 0 else PRECISIONS[::-1]
            for precision in order:
                wall, cpu, history = timed_epoch(models[precision], recipe, train, validation)
                seconds[precision].append(wall)
                print(
                    f"{kind:<13} round {round_ + 1}  {precision:<15}{wall:6.1f} s "
                    f"(CPU {cpu:5.1f} s)  val_accuracy {history['val_accuracy'][-1]:.3f}",
                    flush=True,
                )
        medians = {precision: statistics.median(seconds[precision]) for precision in PRECISIONS}
        print(
            f"{kind}: median epoch {medians['float32']:.1f} s in float32, "
            f"{medians['mixed_bfloat16']:.1f} s in mixed bfloat16: "
            f"{medians['mixed_bfloat16'] / medians['float32']:.2f} times as long\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

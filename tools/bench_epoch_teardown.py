"""Benchmark: epochs with tf.data's autotuning on and off, and the idle time it causes.

    python tools/bench_epoch_teardown.py [--epochs 4] [--cases mnist,plain,augmented]

**The cause.** With autotuning on (tf.data's default), every iterator starts
a thread, ``tf_data_model``, that runs ``Model::OptimizeLoop``: it re-plans
the pipeline, then sleeps on a timed condition variable for twice as long as
the last time (10 ms, 20 ms, ... capped at 60 s). ``model.fit`` drops each
epoch's iterator when the next epoch begins; the iterator's destructor
(``RootDataset::Iterator::~Iterator``) cancels the thread and joins it
(``UnboundedThreadPool::LogicalThreadWrapper::~LogicalThreadWrapper``). The
cancellation does not wake the sleeping thread, so the join lasts until the
thread's timer runs out: the process sits at 0% CPU for up to the
iterator's own age. After a 25 s epoch the next wake-up is due at 41 s
(10 ms + 20 ms + ... + 20.48 s), about 16 s away. The native stacks of every
thread during the idle seconds (``eu-stack -p PID``) show the main thread
in that destructor and ``tf_data_model`` in its timed wait, nothing else
running. Validation and ``evaluate`` iterators, a few seconds old, cost a
second or two each for the same reason.

**The fix** (:func:`lib.images.steady`): the book's pipelines have nothing
to tune (one map thread, a prefetch buffer), so they run with
``options.autotune.enabled = False``: no such thread, nothing to wait for,
and the very same batches. :func:`lib.training.fit_cached` also sends
arrays (MNIST) through :func:`lib.images.make_dataset` instead of Keras's
own, autotuned, array pipeline.

**What it measures.** For each case, chapter 3's MNIST convnet (60,000
digits, batches of 64), chapter 4's Dogs vs. Cats convnet and chapter 5's
augmented one (2,000 photos, validation on 1,000 after every epoch), two
seeded models train ``--epochs`` epochs each, through the same pipeline
with autotuning on ("before") and off ("after"), one after the other in
this one process (the order alternates from case to case). A thread samples
the process's CPU time every 0.2 s; a sample under 5% of one core counts as
idle. It prints each epoch's time and idle seconds, the time ``fit`` spends
after the last epoch (the last iterators' teardown), and whether the two
runs' histories are identical, which they must be: same batches, same
order, same updates.

This is a benchmark, not a test: the seconds depend on the machine and what
else runs on it; compare the ratios. With the defaults it takes about 15
minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lib  # noqa: E402, F401  (first: it silences TensorFlow's start-up banner)
from lib import config, data, images, models, training  # noqa: E402

IDLE_BELOW = 0.05  # cores: a 0.2 s sample under this is idle
SAMPLE_S = 0.2


class CpuSampler:
    """Samples the process's CPU time in the background; counts idle seconds."""

    def __init__(self):
        self.samples: list[tuple[float, float]] = []  # (end time, cores used)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        wall, cpu = time.perf_counter(), time.process_time()
        while not self._stop.wait(SAMPLE_S):
            now, used = time.perf_counter(), time.process_time()
            self.samples.append((now, (used - cpu) / (now - wall)))
            wall, cpu = now, used

    def idle_seconds(self, start: float, end: float) -> float:
        return SAMPLE_S * sum(
            1 for when, cores in self.samples if start < when <= end and cores < IDLE_BELOW
        )

    def stop(self):
        self._stop.set()
        self._thread.join()


def epoch_clock():
    """A callback recording each epoch's (start, end) times."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.spans: list[tuple[float, float]] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.spans.append((self._start, time.perf_counter()))

    return EpochClock()


def mnist_case():
    """Chapter 3's convnet on all 60,000 digits, as ``fit_cached`` feeds it."""
    import keras

    (x_train, y_train), _ = data.load_mnist()
    x = (x_train[..., None] / 255).astype("float32")
    y = keras.utils.to_categorical(y_train, 10)

    def build(autotune: bool):
        config.seed_everything()
        model = models.mnist_convnet()
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
        training.use_steps_per_execution(model)
        train = images.make_dataset(x, y, 64, shuffle=True, rescale=1, autotune=autotune)
        return model, train, None

    return build


def cats_dogs_case(kind: str):
    """Chapter 4's (``from_scratch``) or 5's (``augmented``) convnet and pipelines."""
    splits = images.load_dogs_vs_cats((150, 150), ("train", "validation"), verbose=False)
    train, validation = splits["train"], splits["validation"]

    def build(autotune: bool):
        recipe = training.cats_dogs_recipe(kind)
        model = training.cats_dogs_model(recipe, train, "float32")  # as measured below
        training.use_steps_per_execution(model)
        augment = recipe.augmentation()
        batch_size = recipe.batch_size
        return (
            model,
            train.dataset(batch_size, shuffle=True, augment=augment, autotune=autotune),
            validation.dataset(batch_size, autotune=autotune),
        )

    return build


def run(build, autotune: bool, epochs: int, sampler: CpuSampler) -> dict:
    model, train, validation = build(autotune)
    clock = epoch_clock()
    fitted = model.fit(
        train, epochs=epochs, validation_data=validation, verbose=0, callbacks=[clock]
    )
    end = time.perf_counter()
    time.sleep(2 * SAMPLE_S)  # let the sampler cover the end
    return {
        "epochs": [(b - a, sampler.idle_seconds(a, b)) for a, b in clock.spans],
        "tail": (end - clock.spans[-1][1], sampler.idle_seconds(clock.spans[-1][1], end)),
        "history": fitted.history,
    }


def report(name: str, results: dict) -> None:
    print(f"\n{name}")
    print(
        f"{'':<16}"
        + "".join(
            f"{'epoch ' + str(i + 1):>14}" for i in range(len(results["autotune on"]["epochs"]))
        )
        + f"{'after fit':>14}"
    )
    for label, result in results.items():
        cells = [f"{t:6.1f} ({idle:4.1f})" for t, idle in result["epochs"]]
        cells.append(f"{result['tail'][0]:6.1f} ({result['tail'][1]:4.1f})")
        print(f"{label:<16}" + "".join(f"{cell:>14}" for cell in cells))
    before, after = results["autotune on"], results["autotune off"]
    total = {label: sum(t for t, _ in r["epochs"]) + r["tail"][0] for label, r in results.items()}
    idle = {label: sum(i for _, i in r["epochs"]) + r["tail"][1] for label, r in results.items()}
    for label in results:
        print(
            f"  {label}: {total[label]:.1f} s in all, {idle[label]:.1f} s idle "
            f"({idle[label] / total[label]:.0%})"
        )
    print(f"  time ratio on/off: {total['autotune on'] / total['autotune off']:.2f}")
    same = before["history"] == after["history"]
    print(f"  histories identical: {same}")


EPOCHS = 4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--cases", default="mnist,plain,augmented")
    args = parser.parse_args()
    cases = {
        "mnist": ("MNIST convnet (ch. 3), batches of 64, no validation", mnist_case),
        "plain": (
            "Dogs vs. Cats convnet (ch. 4), with validation",
            lambda: cats_dogs_case("from_scratch"),
        ),
        "augmented": (
            "Augmented convnet (ch. 5), with validation",
            lambda: cats_dogs_case("augmented"),
        ),
    }
    print(
        "Seconds per epoch (idle seconds in brackets); 'after fit': the time fit takes after "
        "its last epoch."
    )
    sampler = CpuSampler()
    for index, key in enumerate(args.cases.split(",")):
        title, make = cases[key]
        build = make()
        order = [True, False] if index % 2 == 0 else [False, True]
        results = {}
        for autotune in order:
            results["autotune on" if autotune else "autotune off"] = run(
                build, autotune, args.epochs, sampler
            )
        report(title, {k: results[k] for k in ("autotune on", "autotune off")})
    sampler.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

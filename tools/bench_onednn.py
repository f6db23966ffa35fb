"""Benchmark: TensorFlow's oneDNN kernels against its Eigen kernels, on chapter 4's convnet.

    python tools/bench_onednn.py [--rounds 5]

``lib`` turns TensorFlow's oneDNN kernels on (``TF_ENABLE_ONEDNN_OPTS=1``),
which TensorFlow itself does only on CPUs with AVX-512 neural-network
instructions. This measures what that buys on the machine at hand.

TensorFlow reads the variable once, when it is imported, so each setting runs
in its own worker process. Each worker decodes the Dogs vs. Cats photos, builds
and compiles chapter 4's model exactly as the chapter does, and traces its
training step; then the two take turns (oneDNN, Eigen, then Eigen, oneDNN,
...), one at a time, each timing one epoch of the chapter's work: 2,000
training photos in batches of 20, then validation on 1,000. Nothing else runs
while an epoch is timed, so both see the same machine.

This is a benchmark, not a test: compare the ratio and the spread, not the
seconds. On a shared two-core AMD EPYC (AVX2, no AVX-512), with the book's
pipelines (which no longer idle at the end of an epoch, see
``tools/bench_epoch_teardown.py``), Eigen's epochs took 1.8 times as long as
oneDNN's in every round (36.0 s against 20.3 s, 3 rounds; the earlier
"10-15%, and slow epochs for both" was measured with the idle tails mixed
in). With 5 rounds it takes about 5 minutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# label -> TF_ENABLE_ONEDNN_OPTS (lib.config.ONEDNN_ENV: the parent does not import
# lib, which would import TensorFlow for nothing)
SETTINGS = {"oneDNN": "1", "Eigen": "0"}


def worker() -> int:
    """Answer each line on stdin with the seconds one training epoch takes."""
    sys.path.insert(0, str(ROOT))
    import lib  # noqa: F401  (first: it imports TensorFlow with the variable we were given)
    from lib import config, images, training

    splits = images.load_dogs_vs_cats((150, 150), splits=("train", "validation"), verbose=False)
    train, validation = splits["train"], splits["validation"]
    recipe = training.cats_dogs_recipe("from_scratch")
    model = training.cats_dogs_model(recipe, train, "float32")  # Eigen has no fast bfloat16
    training.use_steps_per_execution(model)
    train_data = train.dataset(recipe.batch_size, shuffle=True)
    validation_data = validation.dataset(recipe.batch_size)
    # The dataset shuffles itself; shuffle=False only silences Keras's reminder of that.
    model.fit(train_data, epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)  # traces
    model.evaluate(validation_data, steps=2, verbose=0)
    print(f"ready {config.onednn_enabled()}", flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        model.fit(train_data, epochs=1, validation_data=validation_data, shuffle=False, verbose=0)
        print(f"{time.perf_counter() - start:.3f}", flush=True)
    return 0


def start_worker(onednn: str) -> subprocess.Popen:
    environment = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn}
    return subprocess.Popen(
        [sys.executable, __file__, "--worker"],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs of each setting")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker()

    workers = {label: start_worker(value) for label, value in SETTINGS.items()}
    for label, process in workers.items():  # they warm up together: nothing is timed yet
        answer = process.stdout.readline().split()
        if answer != ["ready", str(label == "oneDNN")]:
            raise SystemExit(f"The {label} worker did not start as asked: {answer}")
    print(
        "One epoch of chapter 4's model: 2,000 training photos in batches of 20, "
        f"then 1,000 validation photos; {args.rounds} rounds taken in turns."
    )
    times = {label: [] for label in workers}
    labels = list(workers)
    for round_index in range(args.rounds):
        order = labels if round_index % 2 == 0 else labels[::-1]
        for label in order:
            process = workers[label]
            process.stdin.write("epoch\n")
            process.stdin.flush()
            times[label].append(float(process.stdout.readline()))
        print(
            f"  round {round_index + 1}: "
            + ", ".join(f"{label} {times[label][-1]:.1f} s" for label in labels),
            flush=True,
        )
    for process in workers.values():
        process.stdin.close()
        process.wait()

    print()
    for label in labels:
        values = times[label]
        print(
            f"  {label:<7} median {statistics.median(values):6.1f} s, "
            f"fastest {min(values):6.1f} s, slowest {max(values):6.1f} s"
        )
    ratio = statistics.median(times["Eigen"]) / statistics.median(times["oneDNN"])
    total = sum(times["Eigen"]) / sum(times["oneDNN"])
    print(f"\nEigen / oneDNN: {ratio:.2f}x (medians), {total:.2f}x (all rounds' time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

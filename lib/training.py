"""Training with a cache: a model is trained once per recipe, then loaded.

Training the book's models takes minutes; building the book, running the
tests and re-running a chapter would otherwise repeat it each time.
:func:`fit_cached` therefore describes the whole training *recipe* as JSON
(the model's architecture, the compile settings, the number of epochs, the
batch size, the identity of the data, the seed, the budget and anything else
the caller adds, such as the augmentation), hashes it with SHA-256, and looks
for a model trained under that key in ``lib.config.cache_dir() / "models"``:

- ``<name>-<key>.keras``: the trained model (Keras's own zip format);
- ``<name>-<key>.json``: the recipe, the per-epoch history, the training time
  and the SHA-256 of the ``.keras`` file.

Both files are written atomically (to a temporary file in the same folder,
then renamed over the final name with ``os.replace``), the ``.keras`` file
first and the JSON last. The JSON is the seal: an entry is trusted only when
it parses, names the same key and matches the ``.keras`` file's checksum, so a
save interrupted at any point leaves nothing a later run would load. Any
change to the recipe gives another key, and the model is trained again.
Nothing is ever pickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib import config
from lib.data import sha256_of

CACHE_FORMAT = 2  # 2: arrays train through lib's pipeline, not Keras's
# Compile settings that change how fast training runs but not what it computes.
_NOT_RECIPE = ("jit_compile", "run_eagerly", "steps_per_execution")
# Batches per call into the compiled training graph. With one, Python and Keras's
# bookkeeping run between every two batches: that shows in an epoch of many small
# batches (MNIST's 938), not in one of a hundred large ones (Dogs vs. Cats);
# tools/bench_steps_per_execution.py measures both. Same batches, same updates.
STEPS_PER_EXECUTION = 32


def data_fingerprint(*arrays) -> str:
    """A short SHA-256 of arrays' shapes, dtypes and bytes: the identity of a data set."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}|{array.dtype.str}|".encode())
        digest.update(array.data)
    return digest.hexdigest()[:16]


def recipe(
    model,
    *,
    epochs: int,
    batch_size: int | None,
    data: dict,
    seed: int = config.SEED,
    extra: dict | None = None,
) -> dict:
    """Everything that decides what training produces, as a JSON-ready dict.

    ``model`` must be compiled. The optimizer's auto-generated name is left
    out (Keras numbers it per session), so are settings that only change the
    speed (XLA, eager mode).
    """
    import keras

    if not getattr(model, "compiled", False):
        raise ValueError(f"Compile {model.name!r} before training it: the recipe needs its loss.")
    compile_config = {
        key: value for key, value in model.get_compile_config().items() if key not in _NOT_RECIPE
    }
    optimizer = compile_config.get("optimizer")
    if isinstance(optimizer, dict):
        optimizer = dict(optimizer, config=dict(optimizer.get("config", {})))
        optimizer["config"].pop("name", None)
        compile_config["optimizer"] = optimizer
    return _jsonable(
        {
            "format": CACHE_FORMAT,
            "keras": ".".join(keras.__version__.split(".")[:2]),
            "model": model.get_config(),
            "compile": compile_config,
            "epochs": int(epochs),
            "batch_size": batch_size,
            "data": data,
            "seed": int(seed),
            "budget": config.budget(),
            "extra": extra or {},
        }
    )


def _jsonable(value):
    """``value`` with tuples as lists and unknown objects as strings (a stable JSON form)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def cache_key(recipe_dict: dict) -> str:
    """The SHA-256 of a recipe's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(recipe_dict, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def models_dir() -> Path:
    """The folder of cached models: ``lib.config.cache_dir() / "models"``."""
    path = config.cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def entry_paths(name: str, key: str) -> tuple[Path, Path]:
    """The ``.keras`` and ``.json`` files of the cache entry ``name`` under ``key``."""
    stem = f"{name}-{key[:20]}"
    folder = models_dir()
    return folder / f"{stem}.keras", folder / f"{stem}.json"


def _fsync(path: Path) -> None:
    with open(path, "rb") as stream:
        os.fsync(stream.fileno())


def _temporary(final: Path) -> Path:
    """A fresh temporary name beside ``final``, keeping its suffix (Keras insists on .keras)."""
    handle, name = tempfile.mkstemp(
        prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent
    )
    os.close(handle)
    return Path(name)


def save_entry(model, name: str, key: str, record: dict) -> Path:
    """Write a cache entry atomically: the model first, then the JSON that seals it."""
    model_path, json_path = entry_paths(name, key)
    temporary = _temporary(model_path)
    try:
        model.save(temporary)
        _fsync(temporary)
        checksum = sha256_of(temporary)
        os.replace(temporary, model_path)
    finally:
        temporary.unlink(missing_ok=True)
    record = dict(record, key=key, model_file=model_path.name, model_sha256=checksum)
    temporary = _temporary(json_path)
    try:
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
        _fsync(temporary)
        os.replace(temporary, json_path)
    finally:
        temporary.unlink(missing_ok=True)
    return model_path


def load_entry(name: str, key: str) -> dict | None:
    """The sealed record of a complete, intact cache entry, or ``None``.

    ``None`` when the JSON is missing or unreadable, was written for another
    key, or the ``.keras`` file is missing or does not match its checksum
    (:func:`entry_damage` says which).
    """
    return _read_entry(name, key)[0]


def entry_damage(name: str, key: str) -> str | None:
    """Why the cache entry ``name`` under ``key`` cannot be trusted, or ``None``
    when it is intact or was never written."""
    return _read_entry(name, key)[1]


def _read_entry(name: str, key: str) -> tuple[dict | None, str | None]:
    model_path, json_path = entry_paths(name, key)
    if not model_path.exists() and not json_path.exists():
        return None, None  # never trained under this recipe
    try:
        record = json.loads(json_path.read_text(encoding="utf-8"))
    except OSError:
        return None, f"{json_path.name} is missing (a save was interrupted)"
    except ValueError:
        return None, f"{json_path.name} is not valid JSON"
    if not isinstance(record, dict) or record.get("key") != key:
        return None, f"{json_path.name} was written for another recipe"
    try:
        checksum = sha256_of(model_path)
    except OSError:
        return None, f"{model_path.name} is missing"
    if checksum != record.get("model_sha256"):
        return None, f"{model_path.name} does not match the SHA-256 its JSON records"
    return record, None


def _describe_logs(logs: dict) -> str:
    return "  ".join(f"{name} {float(value):.4f}" for name, value in logs.items())


def format_history(history: dict, seconds: list[float] | None = None) -> str:
    """One line per epoch: the epoch, its time (when known) and every metric."""
    epochs = len(next(iter(history.values()), []))
    lines = []
    for epoch in range(epochs):
        timing = f" ({seconds[epoch]:5.1f} s)" if seconds else ""
        logs = {metric: values[epoch] for metric, values in history.items()}
        lines.append(f"epoch {epoch + 1:3d}/{epochs}{timing}  {_describe_logs(logs)}")
    return "\n".join(lines)


def epoch_logger(epochs: int, printer=print):
    """A Keras callback that prints one line per epoch (use it with ``verbose=0``)."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            printer(
                f"epoch {epoch + 1:3d}/{epochs} ({self.seconds[-1]:5.1f} s)  "
                f"{_describe_logs(logs or {})}",
            )

    return EpochLogger()


def plural(count: int, noun: str) -> str:
    """``"1 epoch"``, ``"3 epochs"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_duration(seconds: float) -> str:
    """A duration as a reader would say it: ``"40 s"``, ``"7 min"``, ``"2.5 h"``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class TrainingClock:
    """Extrapolates a training run's total time from its first batches or its first epoch.

    Keras reports batches once per graph call (:data:`STEPS_PER_EXECUTION`
    batches at a time), and the first call also builds the graph. So the rate
    of a run is measured between the ends of the first and a later call, and:

    - a run of several epochs is estimated when its first epoch (training and
      validation) has ended: that epoch, plus the others at the same cost,
      without the first call's graph building when it could be measured;
    - a single epoch is estimated from its first batches: at the end of its
      second call, or of its first when the second will end the epoch
      (then the graph building is included, and said so).

    :meth:`estimate` returns ``None`` until it can say something, then its
    one line once. Pure bookkeeping on the times it is given, so it can be tested.
    """

    def __init__(self, epochs: int, steps: int | None, start: float):
        self.epochs, self.steps, self.start = epochs, steps, start
        self.calls: list[tuple[float, int]] = []  # (time, batches done) at each call's end
        self.said = False

    def _rate(self) -> float | None:
        """Seconds per batch, graph building excluded (needs two calls)."""
        if len(self.calls) < 2:
            return None
        (first_time, first_steps), (time_, steps) = self.calls[0], self.calls[-1]
        return (time_ - first_time) / (steps - first_steps) if steps > first_steps else None

    def batch_end(self, now: float, steps_done: int) -> str | None:
        """After a graph call of the first epoch: a single epoch's estimate, once."""
        self.calls.append((now, steps_done))
        if self.said or self.epochs != 1 or not self.steps or steps_done >= self.steps:
            return None
        rate = self._rate()
        if rate is not None:
            total = now - self.start + rate * (self.steps - steps_done)
            how = "timed from the first batches"
        elif len(self.calls) == 1 and self.steps - steps_done <= steps_done:
            total = (now - self.start) * self.steps / steps_done
            how = f"timed from the first {steps_done} batches, graph building included"
        else:
            return None
        return self._say(total, how)

    def epoch_end(self, now: float) -> str | None:
        """After the first epoch of several: the whole run's estimate, once."""
        if self.said or self.epochs < 2:
            return None
        first_epoch = now - self.start
        rate = self._rate()
        building = 0.0
        if rate is not None:
            first_time, first_steps = self.calls[0]
            building = max(0.0, first_time - self.start - rate * first_steps)
        total = first_epoch + (self.epochs - 1) * (first_epoch - building)
        return self._say(total, "timed from the first epoch")

    def _say(self, total: float, how: str) -> str:
        self.said = True
        epochs = plural(self.epochs, "epoch")
        return f"Expected: about {format_duration(total)} for {epochs} on this runtime ({how})"


def time_estimator(epochs: int, printer=print):
    """A Keras callback that prints, once, how long the whole run should take
    (see :class:`TrainingClock`)."""
    import keras

    class TimeEstimator(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            steps = (self.params or {}).get("steps")
            self.clock = TrainingClock(epochs, steps, time.perf_counter())
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 0:
                self._print(self.clock.batch_end(time.perf_counter(), batch + 1))

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self._print(self.clock.epoch_end(time.perf_counter()))

        def _print(self, line):
            if line:
                printer(line)

    return TimeEstimator()


@dataclass
class TrainResult:
    """What :func:`fit_cached` returns: the trained model and how it came to be."""

    model: object
    history: dict[str, list[float]]
    from_cache: bool
    key: str
    path: Path
    seconds: float
    epoch_seconds: list[float]

    @property
    def epochs(self) -> int:
        return len(next(iter(self.history.values()), []))

    def final(self, metric: str) -> float:
        """The last epoch's value of ``metric`` (e.g. ``"val_accuracy"``)."""
        return float(self.history[metric][-1])


def use_steps_per_execution(model) -> None:
    """Train :data:`STEPS_PER_EXECUTION` batches per graph call (speed only: see its comment).

    Only a model compiled with Keras's default of one and not yet traced is
    changed; one compiled with a value of its own keeps it.
    """
    if model.steps_per_execution == 1 and model.train_function is None:
        model.steps_per_execution = STEPS_PER_EXECUTION


def _pipeline(x, y, batch_size: int | None, *, shuffle: bool = False, seed: int = config.SEED):
    """Arrays as the book's own ``tf.data`` pipeline, or a dataset as it is; either way
    without tf.data's autotuning, whose teardown idles every epoch's end
    (see :mod:`lib.images`). Keras would build an autotuned pipeline of its own."""
    from lib import images

    if y is None:  # a tf.data dataset batches and shuffles itself
        return images.steady(x)
    batch_size = batch_size or 32  # Keras's default
    return images.make_dataset(x, y, batch_size, shuffle=shuffle, rescale=1, seed=seed)


def _validation_pipeline(validation_data, batch_size: int | None):
    """``validation_data`` (``None``, ``(x, y)`` arrays or a dataset) as a pipeline."""
    if validation_data is None:
        return None
    if isinstance(validation_data, tuple):
        return _pipeline(*validation_data, batch_size)
    return _pipeline(validation_data, None, batch_size)


def fit_cached(
    model,
    x,
    y=None,
    *,
    name: str,
    data: dict,
    epochs: int,
    batch_size: int | None = None,
    validation_data=None,
    seed: int = config.SEED,
    extra: dict | None = None,
    log: bool = True,
) -> TrainResult:
    """``model.fit`` once per recipe: train and cache, or load the cached weights.

    ``model`` is a compiled, freshly built model; ``x``/``y`` and
    ``validation_data`` are what ``model.fit`` takes (arrays, or ``tf.data``
    datasets that batch themselves, in which case ``batch_size`` is only
    recorded). ``data`` identifies the data (names, sizes, a
    :func:`data_fingerprint`...), ``extra`` anything else that shapes the
    result (e.g. the augmentation). Training is seeded with ``seed`` and
    prints one line per epoch; loading prints where from and the cached
    history, so both print the same table. ``log=False`` keeps both quiet,
    but a model that really trains always says so, and how long it expects
    to take on this runtime (:func:`time_estimator`). A model compiled with the default
    ``steps_per_execution=1`` trains :data:`STEPS_PER_EXECUTION` batches per
    graph call, which is faster and computes the same updates.
    """
    printer = print if log else (lambda *args, **kwargs: None)
    recipe_dict = recipe(
        model, epochs=epochs, batch_size=batch_size, data=data, seed=seed, extra=extra
    )
    key = cache_key(recipe_dict)
    model_path, _ = entry_paths(name, key)
    record, damage = _read_entry(name, key)
    if record is not None:
        initial_weights = model.get_weights()
        try:
            # The .keras file holds the optimizer's state too: build the optimizer's
            # variables first, so that they are restored instead of skipped.
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(model_path)
        except (OSError, ValueError) as error:
            model.set_weights(initial_weights)  # start from the freshly built weights
            record, damage = None, f"Keras could not load {model_path.name} ({error})"
    if record is not None:
        history = record["history"]
        printer(
            f"Loaded {name!r} from the model cache ({plural(epochs, 'epoch')}, trained in "
            f"{record['seconds']:.0f} s on {record['trained_on']}): models/{model_path.name}"
        )
        printer(format_history(history, record.get("epoch_seconds")))
        return TrainResult(
            model,
            history,
            True,
            key,
            model_path,
            record["seconds"],
            record.get("epoch_seconds", []),
        )

    why = f"its cache entry is damaged: {damage}" if damage else "not in the model cache yet"
    print(f"Training {name!r} for {plural(epochs, 'epoch')} ({why})...")
    use_steps_per_execution(model)
    config.seed_everything(seed)
    logger = epoch_logger(epochs, printer)
    estimator = time_estimator(epochs)
    start = time.perf_counter()
    fitted = model.fit(
        _pipeline(x, y, batch_size, shuffle=True, seed=seed),
        epochs=epochs,
        validation_data=_validation_pipeline(validation_data, batch_size),
        shuffle=False,  # the pipeline shuffles
        verbose=0,
        callbacks=[logger, estimator],
    )
    seconds = time.perf_counter() - start
    history = {metric: [float(v) for v in values] for metric, values in fitted.history.items()}
    record = {
        "name": name,
        "recipe": recipe_dict,
        "history": history,
        "seconds": seconds,
        "epoch_seconds": logger.seconds,
        "trained_on": time.strftime("%Y-%m-%d"),
    }
    save_entry(model, name, key, record)
    printer(f"Trained in {seconds:.0f} s; saved to the model cache: models/{model_path.name}")
    return TrainResult(model, history, False, key, model_path, seconds, logger.seconds)


def confusion_matrix(actual, predicted, n_classes: int) -> np.ndarray:
    """``matrix[i, j]``: how many examples of class ``i`` were predicted as class ``j``."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(actual), np.asarray(predicted)), 1)
    return matrix


# --- The Dogs vs. Cats recipes of chapters 4 and 5 -------------------------------------
#
# Kept here, not in the chapters, so that a later chapter asking for "the model of
# chapter 5" runs the very same recipe and gets the very same cached model.


@dataclass(frozen=True)
class CatsDogsRecipe:
    """How chapter 4's or 5's convnet trains: the knobs of a chapter's settings block.

    :func:`train_cats_dogs` trains exactly this, so ``dataclasses.replace(RECIPE,
    epochs=30)`` in a chapter trains 30 epochs (under another model-cache key).
    """

    kind: str  # "from_scratch" (chapter 4) or "augmented" (chapter 5)
    epochs: int
    batch_size: int
    learning_rate: float
    schedule: str | None = None  # None: a constant rate; "cosine": decays to 0 (see rmsprop)
    dropout: float | None = None  # rate of the Dropout layer before the dense classifier
    augment: bool = False  # random transformations of the training photos (chapter 5)


def cats_dogs_recipe(kind: str, budget: str | None = None) -> CatsDogsRecipe:
    """The recipe of chapter 4 (``"from_scratch"``) or 5 (``"augmented"``).

    ``budget`` (``"ci"``, ``"full"`` or ``"smoke"``; default: the active one)
    picks whose recipe: the chapters compare theirs with ``budget="full"``,
    the course's. The smoke budget is the CI recipe for one epoch.

    The full budget runs the original course's recipe (RMSprop with a learning
    rate of 1e-4; 30 and 100 epochs). The CI budget trains far fewer epochs,
    with a larger learning rate so that each chapter's lesson shows within them;
    for the augmented model also in smaller batches (more updates per epoch, at
    the same cost per photo) and with the rate decaying to 0 along a cosine,
    which settles the weights at the end of so short a run instead of leaving
    them where the last large step threw them.
    """
    if kind == "from_scratch":
        return CatsDogsRecipe(
            kind,
            epochs=config.by_budget(ci=10, full=30, smoke=1, budget_name=budget),
            batch_size=20,
            learning_rate=config.by_budget(ci=3e-4, full=1e-4, budget_name=budget),
        )
    if kind == "augmented":
        return CatsDogsRecipe(
            kind,
            epochs=config.by_budget(ci=15, full=100, smoke=1, budget_name=budget),
            batch_size=config.by_budget(ci=10, full=32, budget_name=budget),
            learning_rate=config.by_budget(ci=5e-4, full=1e-4, budget_name=budget),
            schedule=config.by_budget(ci="cosine", full=None, budget_name=budget),
            dropout=0.5,
            augment=True,
        )
    raise ValueError(f"No Dogs vs. Cats recipe called {kind!r}: use 'from_scratch' or 'augmented'.")


def folder_identity(folder) -> dict:
    """What the model cache knows an :class:`lib.images.ImageFolder` by."""
    return {
        "folder": folder.directory.name,
        "classes": list(folder.class_names),
        "counts": folder.counts(),
        "image_shape": list(folder.images.shape[1:]),
        "fingerprint": data_fingerprint(folder.images, folder.labels),
    }


def rmsprop(learning_rate: float, *, schedule: str | None = None, steps: int | None = None):
    """RMSprop, the course's optimizer, at a constant ``learning_rate`` or, with
    ``schedule="cosine"``, one that decays from it to 0 along a cosine over ``steps``
    updates: large steps first, to learn fast, then smaller ones, to settle."""
    import keras

    if schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    elif schedule is not None:
        raise ValueError(f"Unknown schedule {schedule!r}: use None (constant) or 'cosine'.")
    return keras.optimizers.RMSprop(learning_rate=learning_rate)


def cats_dogs_model(recipe: CatsDogsRecipe, train):
    """Chapter 4's or 5's convnet, seeded, built and compiled as ``recipe`` says.

    ``train`` is the training :class:`lib.images.ImageFolder`: its photo shape
    sizes the input and its length the cosine schedule.
    """
    from lib import models

    steps = recipe.epochs * math.ceil(len(train) / recipe.batch_size)
    config.seed_everything()
    model = models.cats_dogs_convnet(train.images.shape[1:], dropout=recipe.dropout)
    model.compile(
        optimizer=rmsprop(recipe.learning_rate, schedule=recipe.schedule, steps=steps),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train_cats_dogs(recipe: CatsDogsRecipe, train, validation, *, log: bool = True) -> TrainResult:
    """Build, compile and train (or load) the Dogs vs. Cats convnet of ``recipe``.

    ``train`` and ``validation`` are :class:`lib.images.ImageFolder` objects.
    Only the training images are shuffled and, for an augmented recipe,
    augmented; the validation images are only rescaled.
    """
    from lib import augmentation

    model = cats_dogs_model(recipe, train)
    augment = augmentation.pipeline() if recipe.augment else None
    return fit_cached(
        model,
        train.dataset(recipe.batch_size, shuffle=True, augment=augment),
        name=f"cats_dogs_{recipe.kind}",
        data={"train": folder_identity(train), "validation": folder_identity(validation)},
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        validation_data=validation.dataset(recipe.batch_size),
        extra={"augmentation": augment.get_config() if augment is not None else None},
        log=log,
    )

"""Cached training: a model is trained once per recipe, then loaded.

Training the book's models takes minutes; building the book, running the
tests and re-running a chapter would otherwise repeat it each time.
:func:`fit_cached` therefore describes the whole training *recipe* as JSON
(the model's architecture, the compile settings, the number of epochs, the
batch size, the identity of the data, the seed, the budget and anything else
the caller adds, such as the augmentation), hashes it with SHA-256 and keeps
the trained model under that key in the model cache (:mod:`lib.model_cache`).
Any change to the recipe gives another key, and the model is trained again.
The module also holds the Dogs vs. Cats recipes of chapters 4 and 5.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lib import config, model_cache
from lib.cache_files import canonical_json, json_key
from lib.cache_files import data_fingerprint as data_fingerprint  # chapters call training.X
from lib.model_cache import entry_paths, read_entry, save_entry
from lib.progress import epoch_logger, format_history, time_estimator
from lib.progress import plural as plural  # chapters call training.X

CACHE_FORMAT = 2  # 2: arrays train through lib's pipeline, not Keras's
# Compile settings that change how fast training runs but not what it computes.
_NOT_RECIPE = ("jit_compile", "run_eagerly", "steps_per_execution")
# Batches per call into the compiled training graph. With one, Python and Keras's
# bookkeeping run between every two batches: that shows in an epoch of many small
# batches (MNIST's 938), not in one of a hundred large ones (Dogs vs. Cats);
# tools/bench_steps_per_execution.py measures both. Same batches, same updates.
STEPS_PER_EXECUTION = 32


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
    return json.loads(canonical_json(value))


def cache_key(recipe_dict: dict) -> str:
    """The SHA-256 of a recipe's canonical JSON (sorted keys, no spaces): the model
    cache's key, the same on every machine (:func:`lib.cache_files.json_key`)."""
    return json_key(recipe_dict)


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
    to take on this runtime (:func:`lib.progress.time_estimator`). A model
    compiled with the default ``steps_per_execution=1`` trains
    :data:`STEPS_PER_EXECUTION` batches per graph call, which is faster and
    computes the same updates.
    """
    printer = print if log else _quiet
    recipe_dict = recipe(
        model, epochs=epochs, batch_size=batch_size, data=data, seed=seed, extra=extra
    )
    key = cache_key(recipe_dict)
    record, damage = _restore(model, name, key)
    if record is not None:
        return _loaded(model, name, key, record, epochs, printer)
    why = f"its cache entry is damaged: {damage}" if damage else "not in the model cache yet"
    print(f"Training {name!r} for {plural(epochs, 'epoch')} ({why})...")
    return _train_and_record(
        model,
        x,
        y,
        validation_data,
        name=name,
        key=key,
        recipe_dict=recipe_dict,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        printer=printer,
    )


def _quiet(*args, **kwargs) -> None:
    """The printer of ``fit_cached(log=False)``."""


def _restore(model, name: str, key: str) -> tuple[dict | None, str | None]:
    """Load the cached weights of ``name`` under ``key`` into ``model``.

    Returns the entry's record, or ``None`` and why the entry cannot be used
    (no reason when it was never written); on failure ``model`` keeps its
    freshly built weights.
    """
    record, damage = read_entry(name, key)
    if record is None:
        return None, damage
    model_path, _ = entry_paths(name, key)
    initial_weights = model.get_weights()
    try:
        # The .keras file holds the optimizer's state too: build the optimizer's
        # variables first, so that they are restored instead of skipped.
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(model_path)
    except (OSError, ValueError) as error:
        model.set_weights(initial_weights)  # start from the freshly built weights
        return None, f"Keras could not load {model_path.name} ({error})"
    return record, None


def _loaded(model, name: str, key: str, record: dict, epochs: int, printer) -> TrainResult:
    """A restored model's result, after saying where it came from and its cached history."""
    model_path, _ = entry_paths(name, key)
    printer(
        f"Loaded {name!r} from the model cache ({plural(epochs, 'epoch')}, trained in "
        f"{record['seconds']:.0f} s on {record['trained_on']}): models/{model_path.name}"
    )
    history = record["history"]
    printer(format_history(history, record.get("epoch_seconds")))
    epoch_seconds = record.get("epoch_seconds", [])
    return TrainResult(model, history, True, key, model_path, record["seconds"], epoch_seconds)


def _train_and_record(
    model, x, y, validation_data, *, name, key, recipe_dict, epochs, batch_size, seed, printer
) -> TrainResult:
    """Train ``model`` as its recipe says, printing as it goes, then save it to the cache."""
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
    model_path = save_entry(model, name, key, record)
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
    augment: str | None = None  # ranges of the random transformations (chapter 5): a name
    # in lib.augmentation.RANGES, "course" or "mild"

    def augmentation(self):
        """The augmentation layer this recipe trains with, or None."""
        from lib import augmentation

        return augmentation.pipeline(**augmentation.RANGES[self.augment]) if self.augment else None


def cats_dogs_recipe(kind: str, budget: str | None = None) -> CatsDogsRecipe:
    """The recipe of chapter 4 (``"from_scratch"``) or 5 (``"augmented"``) under ``budget``
    (default: the active one; the chapters compare theirs with ``budget="full"``).

    ``full`` is the original course's recipe: RMSprop at 1e-4, 30 and 100 epochs.
    ``ci`` trains far fewer epochs at a larger rate, for the augmented model one
    decaying to 0 along a cosine, with milder transformations
    (``augmentation.RANGES["mild"]``), which so short a run learns from faster:
    measured here, 28 epochs reached 79% validation accuracy with them, the
    course's 74% even in 32. ``smoke`` is the CI recipe for one epoch.
    """
    if kind == "from_scratch":
        return CatsDogsRecipe(
            kind,
            epochs=config.by_budget(ci=8, full=30, smoke=1, budget_name=budget),
            batch_size=20,
            learning_rate=config.by_budget(ci=3e-4, full=1e-4, budget_name=budget),
        )
    if kind == "augmented":
        return CatsDogsRecipe(
            kind,
            epochs=config.by_budget(ci=28, full=100, smoke=1, budget_name=budget),
            batch_size=32,
            learning_rate=config.by_budget(ci=5e-4, full=1e-4, budget_name=budget),
            schedule=config.by_budget(ci="cosine", full=None, budget_name=budget),
            dropout=0.5,
            augment=config.by_budget(ci="mild", full="course", budget_name=budget),
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


def compile_cats_dogs(model, learning_rate: float = 1e-3, **schedule) -> None:
    """Compile a cat-or-dog model as every one in the book is: one sigmoid unit's
    binary cross-entropy, accuracy, and RMSprop (``schedule``: see :func:`rmsprop`)."""
    model.compile(
        optimizer=rmsprop(learning_rate, **schedule),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )


def cats_dogs_model(recipe: CatsDogsRecipe, train, precision: str | None = None):
    """Chapter 4's or 5's convnet, seeded, built and compiled as ``recipe`` says.

    ``train`` is the training :class:`lib.images.ImageFolder`: its photo shape
    sizes the input and its length the cosine schedule. ``precision``
    defaults to :func:`lib.config.training_precision`, this machine's fastest.
    """
    from lib import models

    steps = recipe.epochs * math.ceil(len(train) / recipe.batch_size)
    precision = precision or config.training_precision()
    config.seed_everything()
    model = models.cats_dogs_convnet(train.images.shape[1:], recipe.dropout, precision)
    compile_cats_dogs(model, recipe.learning_rate, schedule=recipe.schedule, steps=steps)
    return model


def float32_twin(model, recipe: CatsDogsRecipe):
    """``model``'s weights in the same convnet computing in float32, compiled to evaluate.

    Mixed precision keeps the weights in float32, so they copy over as they
    are; evaluating and taking the model apart then see plain float32 numbers.
    """
    from lib import models

    if model.get_layer("conv1").dtype_policy.name == "float32":
        return model
    twin = models.cats_dogs_convnet(model.input_shape[1:], recipe.dropout)
    twin.set_weights(model.get_weights())
    compile_cats_dogs(twin, recipe.learning_rate)
    return twin


def evaluate_cached(result: TrainResult, folder, batch_size: int = 50) -> dict[str, float]:
    """``result.model.evaluate`` on ``folder``'s photos: ``{"loss": ..., "accuracy": ...}``.

    A trained model's loss and accuracy on a folder never change, and evaluating
    thousands of photos takes seconds, so they are measured once per model file
    and kept beside its cache entry (:func:`lib.model_cache.save_evaluation`)."""
    dtype = result.model.dtype_policy.name
    what = json_key({"folder": folder_identity(folder), "batch_size": batch_size, "dtype": dtype})
    stored = model_cache.read_evaluations(result.path).get(what)
    if stored is None:
        values = result.model.evaluate(folder.dataset(batch_size), verbose=0, return_dict=True)
        stored = {"loss": float(values["loss"]), "accuracy": float(values["accuracy"])}
        model_cache.save_evaluation(result.path, what, stored)
    return stored


def train_cats_dogs(recipe: CatsDogsRecipe, train, validation, *, log: bool = True) -> TrainResult:
    """Build, compile and train (or load) the Dogs vs. Cats convnet of ``recipe``.

    ``train`` and ``validation`` are :class:`lib.images.ImageFolder` objects.
    Only the training images are shuffled and, for an augmented recipe,
    augmented; the validation images are only rescaled. The model trains in
    this machine's precision and comes back computing in float32.
    """
    precision = config.training_precision()
    model = cats_dogs_model(recipe, train, precision)
    augment = recipe.augmentation()
    if log:
        print(f"Precision: {config.describe_precision(precision)}")
    result = fit_cached(
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
    return replace(result, model=float32_twin(result.model, recipe))

"""The model cache: keyed by the recipe, written atomically, round-trips a model."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import lib  # noqa: F401  (quiet TensorFlow start-up)
from lib import cache_files, config, model_cache, models, progress, training

DATA = {"name": "tiny", "n": 32}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVNETS_CACHE", str(tmp_path))
    monkeypatch.delenv("CONVNETS_BUDGET", raising=False)
    monkeypatch.setattr(config, "gpu_names", lambda: ())  # auto is ci, on any machine
    return tmp_path


@pytest.fixture
def tiny_data():
    rng = np.random.default_rng(0)
    x = rng.random((32, 4), dtype=np.float32)
    y = (x.sum(axis=1) > 2).astype(np.float32)
    return x, y


def tiny_model(units=3, learning_rate=0.01):
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(4,), name="features"),
            keras.layers.Dense(units, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="predictions"),
        ],
        name="tiny",
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        run_eagerly=True,  # no graph tracing: a few steps run faster eagerly
    )
    return model


def key(model=None, **changes):
    settings = {"epochs": 1, "batch_size": 8, "data": DATA, "seed": config.SEED, "extra": None}
    settings.update(changes)
    return training.cache_key(training.recipe(model or tiny_model(), **settings))


def fit(model, data, **changes):
    settings = {"name": "tiny", "data": DATA, "epochs": 1, "batch_size": 8, "log": False}
    settings.update(changes)
    return training.fit_cached(model, *data, **settings)


def test_key_is_stable_for_the_same_recipe():
    # Two separately built models: Keras numbers their optimizers differently.
    assert key() == key()


def test_key_changes_with_every_part_of_the_recipe(monkeypatch):
    base = key()
    changed = {
        "architecture": key(tiny_model(units=4)),
        "learning rate": key(tiny_model(learning_rate=0.02)),
        "epochs": key(epochs=2),
        "batch size": key(batch_size=16),
        "data": key(data={"name": "tiny", "n": 33}),
        "seed": key(seed=2),
        "extra": key(extra={"augmentation": "flip"}),
    }
    monkeypatch.setenv("CONVNETS_BUDGET", "full")
    changed["budget"] = key()
    assert all(value != base for value in changed.values()), changed
    assert len(set(changed.values())) == len(changed)


def test_recipe_needs_a_compiled_model():
    import keras

    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="Compile"):
        training.recipe(model, epochs=1, batch_size=8, data=DATA)


def test_data_fingerprint_sees_every_byte():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    b = a.copy()
    b[2, 3] += 1
    assert training.data_fingerprint(a) == training.data_fingerprint(a.copy())
    assert training.data_fingerprint(a) != training.data_fingerprint(b)
    assert training.data_fingerprint(a) != training.data_fingerprint(a.reshape(4, 3))


def test_cache_keys_stay_those_of_the_models_already_cached():
    """The key is the SHA-256 of the recipe's canonical JSON, byte for byte as when the
    cache was first written: another digest would orphan every cached model."""
    recipe = {
        "seed": 42,
        "epochs": 3,
        "data": {"name": "mnist", "shape": (60000, 28, 28)},
        "extra": {"path": Path("a/b"), "rate": 1e-4, "text": "\u00e9"},
    }
    assert training.cache_key(recipe) == (
        "4fcbcc421988e6b2a6a6534f0144f2591702448f01dd94a53a2f0c9f159649c5"
    )
    assert training.cache_key(recipe) == cache_files.json_key(recipe)


@pytest.mark.filterwarnings("error::UserWarning")  # e.g. Keras skipping optimizer variables
def test_cached_model_round_trips(tiny_data, cache):
    first = fit(tiny_model(), tiny_data)
    assert not first.from_cache
    assert first.epochs == 1 and set(first.history) == {"loss", "accuracy"}
    assert first.path.is_file() and first.path.parent == cache / "models"
    record = json.loads(first.path.with_suffix(".json").read_text())
    assert record["key"] == first.key and record["history"] == first.history

    again = fit(tiny_model(), tiny_data)
    assert again.from_cache and again.key == first.key
    assert again.history == first.history
    for mine, theirs in zip(again.model.get_weights(), first.model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    x = tiny_data[0]
    np.testing.assert_allclose(again.model.predict(x, verbose=0), first.model.predict(x, verbose=0))
    # The optimizer's state comes back too, so training could go on where it stopped.
    assert int(again.model.optimizer.iterations) == int(first.model.optimizer.iterations) == 4


def test_changed_recipe_trains_again(tiny_data):
    assert not fit(tiny_model(), tiny_data).from_cache
    assert not fit(tiny_model(), tiny_data, epochs=2).from_cache
    assert fit(tiny_model(), tiny_data, epochs=2).from_cache


def test_loading_and_training_print_what_happened(tiny_data, capsys):
    fit(tiny_model(), tiny_data, log=True)
    trained = capsys.readouterr().out
    assert "Training 'tiny' for 1 epoch " in trained and "epoch   1/1" in trained
    fit(tiny_model(), tiny_data, log=True)
    loaded = capsys.readouterr().out
    assert "Loaded 'tiny' from the model cache" in loaded and "epoch   1/1" in loaded


def test_interrupted_save_leaves_nothing_trusted(tiny_data, monkeypatch, cache):
    """A crash between writing the model and sealing it with the JSON."""
    real_replace = os.replace

    def crash_on_json(source, destination):
        if str(destination).endswith(".json"):
            raise KeyboardInterrupt("power cut")
        real_replace(source, destination)

    monkeypatch.setattr(cache_files.os, "replace", crash_on_json)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_model(), tiny_data)
    monkeypatch.setattr(cache_files.os, "replace", real_replace)

    names = sorted(path.name for path in (cache / "models").iterdir())
    assert len(names) == 1 and names[0].endswith(".keras")  # the model, no seal, no temp file
    assert model_cache.load_entry("tiny", key()) is None
    assert not fit(tiny_model(), tiny_data).from_cache  # trained again, then sealed
    assert fit(tiny_model(), tiny_data).from_cache


def test_damaged_entries_are_not_trusted(tiny_data):
    result = fit(tiny_model(), tiny_data)
    model_path, json_path = model_cache.entry_paths("tiny", result.key)
    assert model_cache.load_entry("tiny", result.key) is not None

    model_bytes = model_path.read_bytes()
    model_path.write_bytes(model_bytes[: len(model_bytes) // 2])  # a torn model file
    assert model_cache.load_entry("tiny", result.key) is None
    assert "does not match the SHA-256" in model_cache.entry_damage("tiny", result.key)
    retrained = io.StringIO()
    with contextlib.redirect_stdout(retrained):
        assert not fit(tiny_model(), tiny_data).from_cache
    assert "its cache entry is damaged" in retrained.getvalue()
    assert model_cache.entry_damage("tiny", result.key) is None  # sealed again

    json_path.write_text('{"key": "')  # a torn seal
    assert model_cache.load_entry("tiny", result.key) is None
    assert "not valid JSON" in model_cache.entry_damage("tiny", result.key)
    json_path.write_text(json.dumps({"key": "another recipe"}))
    assert model_cache.load_entry("tiny", result.key) is None
    assert "another recipe" in model_cache.entry_damage("tiny", result.key)
    model_path.unlink()
    assert model_cache.load_entry("tiny", result.key) is None
    json_path.unlink()
    assert model_cache.entry_damage("tiny", result.key) is None  # never trained: no damage


def _tear(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _reseal(path, **changes):
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


DAMAGES = {
    "torn model": (lambda model, seal: _tear(model), ".keras does not match the SHA-256"),
    "no model": (lambda model, seal: model.unlink(), ".keras is missing"),
    "no seal": (lambda model, seal: seal.unlink(), ".json is missing (a save was interrupted)"),
    "torn seal": (lambda model, seal: _tear(seal), ".json is not valid JSON"),
    "another key": (lambda model, seal: _reseal(seal, key="x"), "for another recipe"),
    "no history": (lambda model, seal: _reseal(seal, history=None), "lacks a valid history"),
    "seconds as text": (lambda model, seal: _reseal(seal, seconds="9"), "lacks a valid seconds"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_entry_trains_again_and_says_so(tiny_data, capsys, damage):
    harm, why = DAMAGES[damage]
    result = fit(tiny_model(), tiny_data)
    harm(*model_cache.entry_paths("tiny", result.key))
    assert why in model_cache.entry_damage("tiny", result.key)
    capsys.readouterr()
    assert not fit(tiny_model(), tiny_data).from_cache  # log=False: training still says so
    out = capsys.readouterr().out
    assert f"Training 'tiny' for 1 epoch (its cache entry is damaged: tiny-{result.key[:20]}" in out
    assert why in out and "not in the model cache yet" not in out
    assert model_cache.entry_damage("tiny", result.key) is None  # sealed again
    assert fit(tiny_model(), tiny_data).from_cache


def test_model_builders_have_the_books_parameter_counts():
    assert models.mnist_convnet().count_params() == 93_322
    assert models.mnist_dense().count_params() == 407_050
    assert models.cats_dogs_convnet().count_params() == 3_453_121
    with_dropout = models.cats_dogs_convnet(dropout=0.5)
    assert with_dropout.count_params() == 3_453_121
    assert with_dropout.get_layer("dropout").rate == 0.5


def test_confusion_matrix_counts_pairs():
    matrix = training.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], 3)
    assert matrix.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 2]]


def test_full_budget_runs_the_course_recipes(monkeypatch):
    monkeypatch.setenv("CONVNETS_BUDGET", "full")
    scratch = training.cats_dogs_recipe("from_scratch")
    augmented = training.cats_dogs_recipe("augmented")
    assert (scratch.epochs, scratch.batch_size, scratch.learning_rate) == (30, 20, 1e-4)
    assert not scratch.augment and scratch.dropout is None
    assert (augmented.epochs, augmented.batch_size, augmented.learning_rate) == (100, 32, 1e-4)
    assert augmented.augment == "course" and augmented.dropout == 0.5
    assert scratch.schedule is None and augmented.schedule is None  # constant rates
    assert scratch.augmentation() is None
    affine = augmented.augmentation().get_layer("random_affine")
    assert (affine.rotation_degrees, affine.width_shift, affine.shear) == (40, 0.2, 0.2)


def test_the_ci_recipe_augments_mildly_and_says_how():
    recipe = training.cats_dogs_recipe("augmented", budget="ci")
    assert recipe.augment == "mild"
    affine = recipe.augmentation().get_layer("random_affine")
    ranges = (affine.rotation_degrees, affine.width_shift, affine.height_shift, affine.shear)
    assert ranges == (20, 0.1, 0.1, 0.0)
    assert affine.zoom == 0.2 and affine.horizontal_flip  # as the course's
    with pytest.raises(ValueError, match="no_such_recipe"):
        training.cats_dogs_recipe("no_such_recipe")


def test_a_chapter_can_ask_for_the_course_recipe_under_the_ci_budget(monkeypatch):
    for kind in ("from_scratch", "augmented"):
        monkeypatch.setenv("CONVNETS_BUDGET", "full")
        course = training.cats_dogs_recipe(kind)
        monkeypatch.setenv("CONVNETS_BUDGET", "ci")
        assert training.cats_dogs_recipe(kind, budget="full") == course
        assert training.cats_dogs_recipe(kind, budget="ci") == training.cats_dogs_recipe(kind)
        assert training.cats_dogs_recipe(kind) != course
    with pytest.raises(ValueError, match="'fast' is not a budget"):
        training.cats_dogs_recipe("augmented", budget="fast")


class FakeFolder(SimpleNamespace):
    """Just what cats_dogs_model reads of an ImageFolder: its length and photo shape."""

    def __len__(self):
        return len(self.images)


def test_cats_dogs_model_compiles_each_recipe():
    folder = FakeFolder(images=np.zeros((2000, 150, 150, 3), dtype=np.uint8))
    recipe = training.cats_dogs_recipe("from_scratch")
    scratch = training.cats_dogs_model(recipe, folder)
    assert scratch.count_params() == 3_453_121
    assert float(scratch.optimizer.learning_rate) == pytest.approx(recipe.learning_rate)
    assert scratch.steps_per_execution == 1  # Keras's default, until training asks for more
    training.use_steps_per_execution(scratch)
    assert scratch.steps_per_execution == training.STEPS_PER_EXECUTION
    recipe = training.cats_dogs_recipe("augmented")
    augmented = training.cats_dogs_model(recipe, folder)
    assert augmented.get_layer("dropout").rate == 0.5
    schedule = augmented.optimizer._learning_rate  # the CosineDecay, not its current value
    steps_per_epoch = -(-2000 // recipe.batch_size)  # the last batch is a short one
    assert schedule.decay_steps == recipe.epochs * steps_per_epoch
    longer = training.cats_dogs_model(dataclasses.replace(recipe, epochs=30), folder)
    assert longer.optimizer._learning_rate.decay_steps == 30 * steps_per_epoch  # the knob turns


def test_cpu_has_bfloat16_reads_the_cpus_flags():
    assert config.cpu_has_bfloat16("flags\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert config.cpu_has_bfloat16("flags\t: fpu avx2 amx_bf16 amx_tile\n")
    assert not config.cpu_has_bfloat16("flags\t: fpu avx2 avx512f avx512_vnni\n")
    assert not config.cpu_has_bfloat16("flags\t: fpu avx512_bf16x\n")  # whole words only


@pytest.mark.parametrize(
    ("setting", "bfloat16_cpu", "gpus", "expected"),
    [
        (None, True, (), "mixed_bfloat16"),
        (None, False, (), "float32"),
        (None, True, ("/gpu:0",), "float32"),
        ("auto", True, (), "mixed_bfloat16"),
        ("float32", True, (), "float32"),
        ("Mixed_BFloat16", False, (), "mixed_bfloat16"),
    ],
)
def test_training_precision_follows_the_machine_unless_told(
    monkeypatch, setting, bfloat16_cpu, gpus, expected
):
    monkeypatch.setattr(config, "cpu_has_bfloat16", lambda: bfloat16_cpu)
    monkeypatch.setattr(config, "gpu_names", lambda: gpus)
    if setting is None:
        monkeypatch.delenv(config.PRECISION_ENV, raising=False)
    else:
        monkeypatch.setenv(config.PRECISION_ENV, setting)
    assert config.training_precision() == expected


def test_an_unknown_precision_is_refused(monkeypatch):
    monkeypatch.setenv(config.PRECISION_ENV, "float16")
    with pytest.raises(ValueError, match="CONVNETS_PRECISION='float16' is not a precision"):
        config.training_precision()


def test_a_mixed_precision_convnet_comes_back_computing_in_float32():
    folder = FakeFolder(images=np.zeros((100, 64, 64, 3), dtype=np.uint8))
    recipe = training.cats_dogs_recipe("augmented")
    mixed = training.cats_dogs_model(recipe, folder, "mixed_bfloat16")
    assert mixed.get_layer("conv1").compute_dtype == "bfloat16"
    assert mixed.get_layer("predictions").compute_dtype == "float32"  # the probability
    assert mixed.count_params() == models.cats_dogs_convnet((64, 64, 3), 0.5).count_params()
    twin = training.float32_twin(mixed, recipe)
    assert {layer.compute_dtype for layer in twin.layers} == {"float32"}
    for ours, theirs in zip(twin.get_weights(), mixed.get_weights(), strict=True):
        assert theirs.dtype == np.float32 and np.array_equal(ours, theirs)
    photos = np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)
    close = np.asarray(mixed(photos)) - np.asarray(twin(photos))
    assert np.abs(close).max() < 0.05  # bfloat16 keeps 8 bits of mantissa
    assert twin.compiled  # ready to evaluate, as the chapters do
    plain = training.cats_dogs_model(recipe, folder, "float32")
    assert training.float32_twin(plain, recipe) is plain


def test_use_steps_per_execution_keeps_a_models_own_value():
    model = tiny_model()
    model.steps_per_execution = 4  # as compile(steps_per_execution=4) would
    training.use_steps_per_execution(model)
    assert model.steps_per_execution == 4


@pytest.mark.parametrize("setting, expected", [(None, "True"), ("0", "False")])
def test_importing_lib_turns_onednn_on_unless_told_not_to(setting, expected):
    """TensorFlow reads the switch once, at import, so each case needs a new interpreter."""
    environment = {k: v for k, v in os.environ.items() if k != config.ONEDNN_ENV}
    if setting is not None:
        environment[config.ONEDNN_ENV] = setting
    code = "import lib; from lib import config; print(config.onednn_enabled())"
    finished = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert finished.stdout.split()[-1] == expected


def test_sealed_but_unloadable_entry_trains_again(tiny_data, capsys):
    """A sealed entry whose model does not fit the recipe's (e.g. edited by hand)."""
    result = fit(tiny_model(), tiny_data)
    model_path, json_path = model_cache.entry_paths("tiny", result.key)
    record = json.loads(json_path.read_text())
    other = tiny_model(units=5)
    model_cache.save_entry(other, "tiny", result.key, record)  # resealed around another model
    again = fit(tiny_model(), tiny_data, log=True)
    assert not again.from_cache
    assert "its cache entry is damaged: Keras could not load" in capsys.readouterr().out
    assert again.model.get_layer("hidden").kernel.shape == (4, 3)


# --- budgets ----------------------------------------------------------------------------


def test_unset_budget_is_auto_resolved_by_the_gpu(monkeypatch):
    monkeypatch.setattr(config, "gpu_names", lambda: ())
    assert config.requested_budget() == "auto" and config.budget() == "ci"
    assert config.describe_budget().startswith(
        "Budget: ci (CONVNETS_BUDGET unset: auto, and TensorFlow sees no GPU)"
    )
    monkeypatch.setattr(config, "gpu_names", lambda: ("/physical_device:GPU:0",))
    assert config.budget() == "full"
    assert "(CONVNETS_BUDGET unset: auto, and TensorFlow sees a GPU)" in config.describe_budget()
    monkeypatch.setenv("CONVNETS_BUDGET", "auto")
    assert config.describe_budget().startswith(
        "Budget: full (CONVNETS_BUDGET=auto, and TensorFlow sees a GPU)"
    )


@pytest.mark.parametrize("name", ["ci", "full", "smoke"])
def test_an_asked_budget_is_taken_as_it_is(monkeypatch, name):
    monkeypatch.setattr(config, "gpu_names", lambda: pytest.fail("no GPU question asked"))
    monkeypatch.setenv("CONVNETS_BUDGET", name.upper())
    assert config.budget() == name
    assert config.describe_budget().startswith(f"Budget: {name} (CONVNETS_BUDGET={name})")


def test_unknown_budgets_are_refused(monkeypatch):
    monkeypatch.setenv("CONVNETS_BUDGET", "fast")
    with pytest.raises(ValueError, match="'fast' is not a budget; use one of auto, ci"):
        config.budget()
    with pytest.raises(ValueError, match="'auto' is not a budget"):
        config.by_budget(1, 2, budget_name="auto")


def test_by_budget_smoke_defaults_to_the_ci_value(monkeypatch):
    assert config.by_budget(10, 30, budget_name="smoke") == 10
    assert config.by_budget(10, 30, smoke=1, budget_name="smoke") == 1
    assert config.by_budget(10, 30, smoke=None, budget_name="smoke") is None
    assert config.by_budget(10, 30, smoke=1, budget_name="ci") == 10
    assert config.by_budget(10, 30, smoke=1, budget_name="full") == 30
    monkeypatch.setenv("CONVNETS_BUDGET", "smoke")
    assert config.by_budget(10, 30, smoke=1) == 1


def test_the_ci_budget_keys_the_cache_alike_asked_or_resolved(monkeypatch):
    monkeypatch.setattr(config, "gpu_names", lambda: ())
    resolved = key()
    monkeypatch.setenv("CONVNETS_BUDGET", "ci")
    assert key() == resolved
    monkeypatch.setenv("CONVNETS_BUDGET", "smoke")
    assert key() != resolved


def test_smoke_budget_trains_the_ci_recipes_for_one_epoch():
    for kind in ("from_scratch", "augmented"):
        smoke = training.cats_dogs_recipe(kind, budget="smoke")
        ci = training.cats_dogs_recipe(kind, budget="ci")
        assert smoke == dataclasses.replace(ci, epochs=1)


# --- how long training should take ------------------------------------------------------


def test_several_epochs_are_estimated_from_the_first_without_graph_building():
    clock = progress.TrainingClock(epochs=10, steps=96, start=0.0)
    # Graph calls of 32 batches: the first also builds the graph (5 s), then 1 s per call.
    assert clock.batch_end(6.0, 32) is None
    assert clock.batch_end(7.0, 64) is None
    assert clock.batch_end(8.0, 96) is None
    line = clock.epoch_end(10.0)  # 2 s of validation
    # epoch 1: 10 s, of which 5 s building; 9 more epochs of 5 s each
    assert line == "Expected: about 55 s for 10 epochs on this runtime (timed from the first epoch)"
    assert clock.epoch_end(20.0) is None  # said once


def test_a_single_epoch_is_estimated_from_its_first_batches():
    clock = progress.TrainingClock(epochs=1, steps=320, start=0.0)
    assert clock.batch_end(6.0, 32) is None  # graph building: wait for a second call
    line = clock.batch_end(8.0, 64)  # 2 s per 32 batches from here: 8 more calls
    assert line == (
        "Expected: about 24 s for 1 epoch on this runtime (timed from the first batches)"
    )
    assert clock.batch_end(10.0, 96) is None


def test_a_single_epoch_of_two_calls_is_estimated_from_the_first_with_the_building():
    clock = progress.TrainingClock(epochs=1, steps=63, start=0.0)
    line = clock.batch_end(120.0, 32)
    assert line == (
        "Expected: about 4 min for 1 epoch on this runtime "
        "(timed from the first 32 batches, graph building included)"
    )


def test_a_single_call_says_nothing():
    clock = progress.TrainingClock(epochs=1, steps=20, start=0.0)
    assert clock.batch_end(3.0, 20) is None
    assert clock.epoch_end(3.5) is None


@pytest.mark.parametrize(
    ("seconds", "said"), [(0.2, "1 s"), (40, "40 s"), (89, "89 s"), (420, "7 min"), (9000, "2.5 h")]
)
def test_durations_read_as_people_say_them(seconds, said):
    assert progress.format_duration(seconds) == said


def test_training_prints_its_expected_time_even_when_quiet(tiny_data, capsys):
    fit(tiny_model(), tiny_data, epochs=2, log=False)
    out = capsys.readouterr().out
    assert "Training 'tiny' for 2 epochs" in out
    assert "Expected: about" in out and "for 2 epochs on this runtime" in out
    assert "epoch   1/2" not in out  # the per-epoch lines follow log
    fit(tiny_model(), tiny_data, epochs=2, log=False)
    assert capsys.readouterr().out == ""  # loading from the cache says nothing when quiet


def test_the_chapters_and_tools_find_every_name_they_use_in_lib_training():
    """Moving the model cache and the progress lines out changed no call: every
    ``training.NAME`` of a chapter, a tool or an exercise is still there."""
    root = Path(__file__).resolve().parent.parent
    files = [*(root / "book").glob("*.md"), *(root / "tools").glob("*.py")]
    files += [*(root / "lib" / "exercises").glob("*.py")]
    used = {
        name
        for path in files
        for name in re.findall(r"(?<![\w\"'./])training\.([A-Za-z_]\w*)", path.read_text())
    }
    assert {"fit_cached", "data_fingerprint", "plural", "train_cats_dogs"} <= used
    for name in used:
        assert hasattr(training, name), name
    assert training.data_fingerprint is cache_files.data_fingerprint
    assert training.plural is progress.plural


class TinyFolder:
    """What evaluate_cached reads of an ImageFolder: its identity and a batched dataset."""

    def __init__(self, x, y, name="tiny"):
        self.directory, self.class_names = Path(name), ["no", "yes"]
        self.images, self.labels = x, y

    def counts(self):
        return {"no": int((self.labels == 0).sum()), "yes": int((self.labels == 1).sum())}

    def dataset(self, batch_size):
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((self.images, self.labels)).batch(batch_size)


def test_evaluations_are_measured_once_per_model_file(tiny_data, monkeypatch):
    result = fit(tiny_model(), tiny_data)
    folder = TinyFolder(*tiny_data)
    first = training.evaluate_cached(result, folder)
    loss, accuracy = result.model.evaluate(folder.dataset(50), verbose=0)
    assert first == pytest.approx({"loss": loss, "accuracy": accuracy})
    assert model_cache.evaluations_path(result.path).is_file()

    calls = []
    measured = {"loss": 9.0, "accuracy": 0.5}
    monkeypatch.setattr(result.model, "evaluate", lambda *a, **k: calls.append(1) or measured)
    assert training.evaluate_cached(result, folder) == first and not calls
    # Another folder, or the model file trained again, is measured afresh.
    assert training.evaluate_cached(result, TinyFolder(*tiny_data, name="other")) == measured
    assert calls == [1]
    result.path.write_bytes(result.path.read_bytes() + b" ")
    assert model_cache.read_evaluations(result.path) == {}


def test_a_damaged_evaluations_file_is_measured_again(tiny_data):
    result = fit(tiny_model(), tiny_data)
    folder = TinyFolder(*tiny_data)
    first = training.evaluate_cached(result, folder)
    model_cache.evaluations_path(result.path).write_text("{not json")
    assert training.evaluate_cached(result, folder) == first
    stored = json.loads(model_cache.evaluations_path(result.path).read_text())
    assert list(stored["results"].values()) == [first]

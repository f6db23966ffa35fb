"""The model cache: trained models on disk, each sealed by the JSON that describes it.

An entry is two files in ``lib.config.cache_dir() / "models"``, named after
the recipe's key (see :func:`lib.training.cache_key`):

- ``<name>-<key>.keras``: the trained model (Keras's own zip format);
- ``<name>-<key>.json``: the recipe, the per-epoch history, the training time
  and the SHA-256 of the ``.keras`` file.

Both are written atomically (:func:`lib.cache_files.atomic_path`), the
``.keras`` file first and the JSON last. The JSON is the seal: an entry is
trusted only when it parses, names the same key, holds what loading needs and
matches the ``.keras`` file's checksum, so a save interrupted at any point
leaves nothing a later run would load. Nothing is ever pickled.
"""

from __future__ import annotations

import json
from pathlib import Path

from lib import config
from lib.cache_files import atomic_path, sha256_of, write_json

# What loading a sealed entry reads from its JSON, and the type each must have.
RECORD_FIELDS = {"history": dict, "seconds": (int, float), "trained_on": str}


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


def save_entry(model, name: str, key: str, record: dict) -> Path:
    """Write a cache entry atomically: the model first, then the JSON that seals it."""
    model_path, json_path = entry_paths(name, key)
    with atomic_path(model_path) as temporary:
        model.save(temporary)
        checksum = sha256_of(temporary)
    write_json(json_path, dict(record, key=key, model_file=model_path.name, model_sha256=checksum))
    return model_path


def load_entry(name: str, key: str) -> dict | None:
    """The sealed record of a complete, intact cache entry, or ``None``.

    ``None`` when the JSON is missing or unreadable, was written for another
    key or lacks what loading needs, or the ``.keras`` file is missing or does
    not match its checksum (:func:`entry_damage` says which).
    """
    return read_entry(name, key)[0]


def entry_damage(name: str, key: str) -> str | None:
    """Why the cache entry ``name`` under ``key`` cannot be trusted, or ``None``
    when it is intact or was never written."""
    return read_entry(name, key)[1]


def read_entry(name: str, key: str) -> tuple[dict | None, str | None]:
    """``(record, None)`` for an intact entry, ``(None, why)`` for a damaged one,
    ``(None, None)`` when nothing was ever written under ``key``."""
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
    lacking = [
        field for field, kind in RECORD_FIELDS.items() if not isinstance(record.get(field), kind)
    ]
    if lacking:
        return None, f"{json_path.name} lacks a valid {', '.join(lacking)}"
    try:
        checksum = sha256_of(model_path)
    except OSError:
        return None, f"{model_path.name} is missing"
    if checksum != record.get("model_sha256"):
        return None, f"{model_path.name} does not match the SHA-256 its JSON records"
    return record, None


def evaluations_path(model_path: Path) -> Path:
    """Where a cached model's evaluations are kept: ``<name>-<key>.evaluations.json``."""
    return Path(model_path).with_suffix(".evaluations.json")


def read_evaluations(model_path: Path) -> dict:
    """The evaluations stored for the model in ``model_path``, by what was evaluated.

    Each is a dict of floats (a loss, an accuracy...). Empty when there are
    none, when the file is damaged, or when they were measured on another model
    file (its SHA-256 differs: it was trained again).
    """
    try:
        stored = json.loads(evaluations_path(model_path).read_text(encoding="utf-8"))
        if stored["model_sha256"] != sha256_of(model_path):
            return {}
        return {
            what: values
            for what, values in stored["results"].items()
            if isinstance(values, dict) and all(isinstance(v, float) for v in values.values())
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save_evaluation(model_path: Path, what: str, result: dict) -> None:
    """Add one evaluation of the model in ``model_path`` to its file, atomically."""
    results = {**read_evaluations(model_path), what: result}
    content = {"model_sha256": sha256_of(model_path), "results": results}
    write_json(evaluations_path(model_path), content)

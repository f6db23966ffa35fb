"""Settings shared by every chapter: the budget switch, seeds and folders.

Environment variables (all optional):

``CONVNETS_BUDGET``
    ``auto`` (the default, also when unset): ``full`` where TensorFlow sees a
    GPU (a reader in Colab gets the course's results), ``ci`` otherwise.
    ``ci`` trains short enough for continuous integration on two CPU cores;
    ``full`` runs the original course's full-length recipe; ``smoke`` takes a
    few photos and one epoch everywhere, to test the code paths in minutes
    (its numbers mean nothing). :func:`budget` returns the resolved name,
    never ``auto``: the model cache's keys, and so what is cached under the
    CI budget, do not depend on whether it was asked for or resolved.
``CONVNETS_DATA``
    A mirror directory holding the book's data files (see ``lib.data``).
``CONVNETS_CACHE``
    Where downloads, extracted data and trained models are kept
    (default: the user's cache folder).
``CONVNETS_PRECISION``
    ``auto`` (the default), ``float32`` or ``mixed_bfloat16``: how the Dogs
    vs. Cats convnets train (see :func:`training_precision`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import sys
import time
from pathlib import Path

BUDGET_ENV = "CONVNETS_BUDGET"
BUDGETS = ("ci", "full", "smoke")  # what budget() returns
AUTO = "auto"  # resolved by budget(): full with a GPU, else ci
SEED = 1337
_CI = object()  # by_budget's default for smoke: the CI value


def requested_budget() -> str:
    """What ``CONVNETS_BUDGET`` asks for: ``auto`` when unset or empty; anything else refused."""
    value = os.environ.get(BUDGET_ENV, "").strip().lower() or AUTO
    if value not in (AUTO, *BUDGETS):
        raise ValueError(
            f"{BUDGET_ENV}={value!r} is not a budget; use one of {AUTO}, {', '.join(BUDGETS)}."
        )
    return value


@functools.cache
def gpu_names() -> tuple[str, ...]:
    """The GPUs TensorFlow sees in this process (none when TensorFlow is not installed)."""
    quiet_tensorflow_import()
    try:
        import tensorflow as tf
    except ImportError:
        return ()
    return tuple(device.name for device in tf.config.list_physical_devices("GPU"))


def budget() -> str:
    """The active budget, resolved: ``"ci"``, ``"full"`` or ``"smoke"``.

    ``auto`` (or ``CONVNETS_BUDGET`` unset) is ``"full"`` where TensorFlow sees a
    GPU and ``"ci"`` otherwise; only then is TensorFlow asked.
    """
    value = requested_budget()
    if value == AUTO:
        return "full" if gpu_names() else "ci"
    return value


def by_budget(ci, full, *, smoke=_CI, budget_name: str | None = None):
    """The value for a budget: of ``budget_name``, or the active one.

    ``smoke`` defaults to the CI value; give it where the smoke budget must be
    smaller (epochs, numbers of photos).
    """
    if budget_name is None:
        budget_name = budget()
    elif budget_name not in BUDGETS:
        raise ValueError(f"{budget_name!r} is not a budget; use one of {', '.join(BUDGETS)}.")
    if budget_name == "full":
        return full
    if budget_name == "smoke" and smoke is not _CI:
        return smoke
    return ci


_BUDGET_RECIPES = {
    "ci": "shortened to fit continuous integration on 2 CPU cores",
    "full": "the original course's full-length recipe",
    "smoke": "a few photos and one epoch, to test the code paths: its results mean nothing",
}


def describe_budget() -> str:
    """One line for a chapter's output: which budget runs, why, and how to switch."""
    active, requested = budget(), requested_budget()
    if requested != AUTO:
        why = f"{BUDGET_ENV}={requested}"
    else:
        asked = "=auto" if os.environ.get(BUDGET_ENV, "").strip() else " unset: auto"
        sees = "a GPU" if active == "full" else "no GPU"
        why = f"{BUDGET_ENV}{asked}, and TensorFlow sees {sees}"
    switch = (
        f"set {BUDGET_ENV}=ci for the shortened one"
        if active == "full"
        else f"set {BUDGET_ENV}=full for the original full-length recipe"
    )
    return f"Budget: {active} ({why}), {_BUDGET_RECIPES[active]}; {switch}."


PRECISION_ENV = "CONVNETS_PRECISION"
PRECISIONS = ("float32", "mixed_bfloat16")  # what training_precision() returns


def cpu_has_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bfloat16 numbers in hardware (AVX-512 BF16 or AMX).

    Elsewhere TensorFlow emulates them, and bfloat16 would be slower than float32.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: no way to tell, so no
            return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", cpuinfo) is not None


def training_precision() -> str:
    """How the Dogs vs. Cats convnets of chapters 4 and 5 train.

    ``"mixed_bfloat16"`` (layers compute in bfloat16, weights stay float32)
    where no GPU is seen and the CPU has bfloat16 instructions: on such a CPU
    an epoch takes about 0.6 times as long (``tools/bench_precision.py``).
    ``"float32"`` elsewhere. ``CONVNETS_PRECISION`` forces either.
    """
    value = os.environ.get(PRECISION_ENV, "").strip().lower() or AUTO
    if value not in (AUTO, *PRECISIONS):
        raise ValueError(
            f"{PRECISION_ENV}={value!r} is not a precision; use one of {AUTO}, "
            f"{', '.join(PRECISIONS)}."
        )
    if value != AUTO:
        return value
    return "mixed_bfloat16" if cpu_has_bfloat16() and not gpu_names() else "float32"


def describe_precision(precision: str) -> str:
    """What ``precision`` means, in a few words, and how to change it."""
    if precision == "mixed_bfloat16":
        return (
            "mixed_bfloat16 (bfloat16 arithmetic, float32 weights), for speed on this CPU; "
            f"{PRECISION_ENV}=float32 trains in float32."
        )
    return f"{precision}."


CACHE_ENV = "CONVNETS_CACHE"
STALE_AFTER_S = 3600  # a temporary file untouched this long was left by a killed process


def project_root() -> Path:
    """The checkout's root (the folder with pyproject.toml above ``lib/``), else the current one.

    Relative paths in the environment variables are taken from here, so that
    ``CONVNETS_CACHE=.cache`` means one folder whether a command runs in the
    root or a chapter runs in ``book/``. An installed ``lib`` (Colab) has no
    checkout: there the current directory is used.
    """
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


def setting_path(value: str) -> Path:
    """A path from an environment variable: ``~`` expanded, a relative one resolved once.

    Resolved against :func:`project_root`, not the working directory (which
    differs between the command line and a chapter executing in ``book/``).
    """
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() else project_root() / path


def cache_dir() -> Path:
    """The folder for downloads, extracted data and trained models (created if needed).

    ``CONVNETS_CACHE`` naming a file, or a folder that cannot be created, is
    refused with a message that names the setting. Temporaries left in the
    cache by a killed process are cleared the first time a process asks.
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        path = setting_path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "convnets-book"
    try:
        if path.exists() and not path.is_dir():
            raise FileExistsError("it is a file")
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        setting = f"{CACHE_ENV}={env}" if env else "The default cache folder"
        raise NotADirectoryError(
            f"{setting} cannot be used as the cache folder {path}: "
            f"{error.strerror or error}. Point {CACHE_ENV} at a folder (or a path where one "
            "can be created), or unset it for the default."
        ) from None
    if path not in _swept:
        _swept.add(path)
        clear_stale_temporaries(path)
    return path


_swept: set[Path] = set()


def is_temporary(name: str) -> bool:
    """Whether a file or folder name is one of the cache's temporaries (``.NAME.*.tmp*``,
    ``.NAME.partial-*``), which lib writes before renaming them into place."""
    return name.startswith(".") and (".tmp" in name or ".partial-" in name)


def clear_stale_temporaries(folder: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete the temporaries under ``folder`` untouched for ``older_than_s``; return them.

    A process killed while saving (a model, a download, an extraction) leaves
    one behind; a live process touches its own far more often than that.
    """
    cutoff, removed = time.time() - older_than_s, []
    for current, folders, files in os.walk(folder):
        for name in [*files, *folders]:
            path = Path(current, name)
            try:
                if not is_temporary(name) or path.lstat().st_mtime > cutoff:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError:  # another process removed or renamed it meanwhile
                continue
            removed.append(path)
        folders[:] = [name for name in folders if Path(current, name).exists()]
    return removed


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy and the Keras backend so reruns give the same numbers."""
    import keras

    keras.utils.set_random_seed(seed)


@contextlib.contextmanager
def _file_descriptor_silenced(fd: int):
    """Point a raw file descriptor at /dev/null for the duration of the block."""
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(devnull)
        os.close(saved)


# TensorFlow turns its oneDNN kernels on by default only on CPUs with AVX-512
# neural-network instructions. On AVX2 CPUs such as the two-core machines this
# book is tested on, it falls back to Eigen's kernels, which train the Dogs vs.
# Cats convnet markedly slower there (tools/bench_onednn.py measures both side
# by side). Setting the variable to 0 before importing ``lib`` keeps
# TensorFlow's own choice.
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


def onednn_enabled() -> bool:
    """Whether the TensorFlow imported in this process runs oneDNN's kernels."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def quiet_tensorflow_import() -> None:
    """Import TensorFlow once, with oneDNN on and its C++ start-up log lines discarded.

    Later TensorFlow warnings (``TF_CPP_MIN_LOG_LEVEL=2`` keeps errors) still
    reach the reader: only the fixed banner printed at import is dropped.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault(ONEDNN_ENV, "1")
    if "tensorflow" in sys.modules:
        return
    try:
        with _file_descriptor_silenced(2):
            import tensorflow  # noqa: F401
    except ImportError:  # the data layer and its command line work without it
        pass

"""Settings shared by every chapter: the budget switch, seeds and folders.

Environment variables (all optional):

``CONVNETS_BUDGET``
    ``ci`` (default) trains short enough for continuous integration on two
    CPU cores; ``full`` runs the original course's full-length recipe.
``CONVNETS_DATA``
    A mirror directory holding the book's data files (see ``lib.data``).
``CONVNETS_CACHE``
    Where downloads, extracted data and trained models are kept
    (default: the user's cache folder).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

BUDGET_ENV = "CONVNETS_BUDGET"
BUDGETS = ("ci", "full")
SEED = 1337


def budget() -> str:
    """The active budget, ``"ci"`` or ``"full"``; anything else is refused."""
    value = os.environ.get(BUDGET_ENV, "ci").strip().lower() or "ci"
    if value not in BUDGETS:
        raise ValueError(
            f"{BUDGET_ENV}={value!r} is not a budget; use one of {', '.join(BUDGETS)}."
        )
    return value


def by_budget(ci, full, budget_name: str | None = None):
    """Pick the CI-budget value or the full-recipe value: of ``budget_name``, or the active one."""
    if budget_name is None:
        budget_name = budget()
    elif budget_name not in BUDGETS:
        raise ValueError(f"{budget_name!r} is not a budget; use one of {', '.join(BUDGETS)}.")
    return full if budget_name == "full" else ci


def describe_budget() -> str:
    """One line for a chapter's output saying which recipe runs and how to switch."""
    if budget() == "full":
        return f"Budget: full ({BUDGET_ENV}=full), the original course's full-length recipe."
    return (
        f"Budget: ci (the default), shortened to fit continuous integration on 2 CPU cores; "
        f"set {BUDGET_ENV}=full for the original full-length recipe."
    )


def cache_dir() -> Path:
    """The folder for downloads, extracted data and trained models."""
    env = os.environ.get("CONVNETS_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "convnets-book"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
# book is tested on, it falls back to Eigen's kernels. Measured there, Eigen
# trained the Dogs vs. Cats convnet 10-15% slower at best and fell to half speed
# far more often (tools/bench_onednn.py measures both side by side). Setting the
# variable to 0 before importing ``lib`` keeps TensorFlow's own choice.
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

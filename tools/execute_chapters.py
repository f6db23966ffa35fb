"""Execute the book's chapters two at a time into Jupyter Book's execution cache.

    python tools/execute_chapters.py [--jobs 2]

``make book`` runs this before ``jupyter-book build``. Jupyter Book executes
the chapters one after the other as Sphinx reads them, and a chapter spends
much of its time on one core (starting its kernel, decoding photos, drawing
figures) while the other idles. Here a pool of kernels runs them side by
side, each exactly as MyST-NB would (read with MyST-NB's own reader, run in
``book/`` with the build's timeout, errors not allowed), and stores each
executed notebook in ``_build/.jupyter_cache`` under the hash MyST-NB looks
up, with its execution time for the statistics page. ``jupyter-book build``
then finds every chapter there and only renders it (one whose code changed
since would be executed by the build, as before). A chapter that fails is
reported with its traceback once the others have run, and the script exits
with 1, so that ``make book`` stops there.

Chapters are started longest first, and a chapter that uses a model another
chapter trains starts only when that chapter has finished (:data:`AFTER`), so
that no model is trained twice. A chapter's time is measured beside another
running chapter, so it reads longer than it would alone.

On two cores, with a cold model cache: the chapters took 700 s two at a time
(2026-12-03), against 870 s one after the other in the clean build before
(the sum of its execution statistics; two builds, not one run side by side).
Two trainings sharing the cores each take twice as long, so the gain is the
time a lone chapter leaves one core idle.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CACHE = ROOT / "_build" / ".jupyter_cache"
# Chapters start in this order, the longest first (from the execution statistics of a
# clean build on two cores); any other chapter after them.
ORDER = [
    "05_augmentation",
    "04_dogs_vs_cats",
    "06_pretrained",
    "03_mnist",
    "01_convolution",
    "09_summary",
    "02_pooling",
    "07_visualizing",
    "08_gradcam",
]
# A chapter that loads a model another one trains starts when that one has finished.
# (Chapter 5 compares its model with chapter 4's only after training its own, by
# when chapter 4, started beside it, has long finished.)
AFTER = {"07_visualizing": {"05_augmentation"}, "08_gradcam": {"05_augmentation"}}


def read_chapter(path: Path):
    """The chapter as MyST-NB reads it for the build (the same cells, so the same hash)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    text = path.read_text(encoding="utf-8")
    return read_myst_markdown_notebook(
        text, config=MdParserConfig(), add_source_map=True, path=str(path)
    )


def execution_timeout() -> int:
    """The build's timeout per cell (``execute.timeout`` in ``_config.yml``)."""
    settings = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return int(settings.get("execute", {}).get("timeout", 30))


def execute(path: Path, timeout: int):
    """Run one chapter in a fresh kernel: ``(notebook, seconds, error text or None)``."""
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = read_chapter(path)
    result = single_nb_execution(
        notebook, cwd=str(path.parent), timeout=timeout, allow_errors=False, meta_override=True
    )
    error = None if result.err is None else (result.exc_string or repr(result.err))
    return notebook, result.time, error


def chapters() -> list[Path]:
    """The pages the build executes through the cache, in :data:`ORDER`: ``book/*.md``
    notebooks, less those marked ``execution_mode: force`` (the Data page), run at every build."""
    from myst_nb.core.read import is_myst_markdown_notebook

    found = [
        path
        for path in BOOK.glob("*.md")
        if is_myst_markdown_notebook(path.read_text(encoding="utf-8"))
        and read_chapter(path).metadata.get("mystnb", {}).get("execution_mode") != "force"
    ]
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(found, key=lambda path: (rank.get(path.stem, len(ORDER)), path.name))


def chapters_to_run(cache) -> list[Path]:
    """The chapters whose current code has no executed notebook in the cache."""
    missing = []
    for path in chapters():
        try:
            cache.match_cache_notebook(read_chapter(path))
        except KeyError:
            missing.append(path)
    return missing


def store(cache, path: Path, notebook, seconds: float) -> None:
    """Keep an executed chapter where MyST-NB looks for it, as MyST-NB itself does."""
    from jupyter_cache.base import CacheBundleIn

    bundle = CacheBundleIn(notebook, str(path), data={"execution_seconds": seconds})
    cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)


def startable(waiting: list[Path], unfinished: set[str]) -> list[Path]:
    """The waiting chapters, in order, that wait for no unfinished chapter (:data:`AFTER`)."""
    return [path for path in waiting if not AFTER.get(path.stem, set()) & unfinished]


def run_all(jobs: int) -> int:
    """Execute every chapter not yet cached, ``jobs`` at a time; 1 if any failed."""
    from jupyter_cache import get_cache

    cache = get_cache(str(CACHE))
    waiting = chapters_to_run(cache)
    unfinished = {path.stem for path in waiting}
    timeout, failed, running = execution_timeout(), [], {}
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        while waiting or running:
            for path in startable(waiting, unfinished)[: jobs - len(running)]:
                waiting.remove(path)
                running[pool.submit(execute, path, timeout)] = path
                print(f"[{time.perf_counter() - start:4.0f} s] executing {path.name}", flush=True)
            if not running:
                raise RuntimeError(f"chapters waiting for each other: {AFTER}")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                path = running.pop(future)
                unfinished.discard(path.stem)
                notebook, seconds, error = future.result()
                if error:
                    failed.append(path.name)
                    print(f"{path.name} failed after {seconds:.0f} s:\n{error}", file=sys.stderr)
                else:
                    store(cache, path, notebook, seconds)
                    print(f"[{time.perf_counter() - start:4.0f} s] {path.name}: {seconds:.0f} s")
    print(f"executed in {time.perf_counter() - start:.0f} s; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="chapters at a time (default 2)")
    return run_all(parser.parse_args().jobs)


if __name__ == "__main__":
    sys.exit(main())

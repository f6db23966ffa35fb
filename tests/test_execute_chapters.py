"""tools/execute_chapters.py stores what the build would have executed, where it looks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import execute_chapters  # noqa: E402

CHAPTERS = execute_chapters.chapters()


def test_the_order_and_the_waits_name_real_chapters():
    names = [path.stem for path in CHAPTERS]
    assert set(names) == set(execute_chapters.ORDER)
    assert names == sorted(names, key=lambda name: execute_chapters.ORDER.index(name))
    assert "data" not in names  # executed at every build (execution_mode: force)
    for chapter, before in execute_chapters.AFTER.items():
        assert {chapter, *before} <= set(names)


def test_a_chapter_starts_only_after_the_chapters_it_waits_for():
    by_name = {path.stem: path for path in CHAPTERS}
    waiting = [by_name[name] for name in ("07_visualizing", "03_mnist", "08_gradcam")]
    unfinished = {"05_augmentation", "07_visualizing", "03_mnist", "08_gradcam"}
    assert execute_chapters.startable(waiting, unfinished) == [by_name["03_mnist"]]
    unfinished.discard("05_augmentation")
    assert execute_chapters.startable(waiting, unfinished) == waiting


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_a_chapter_is_read_as_myst_nb_reads_it_for_the_build(chapter, tmp_path):
    """Same code cells and metadata, so the same hash: the build finds what the script stored."""
    from jupyter_cache import get_cache
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig

    text = chapter.read_text(encoding="utf-8")
    reader = create_nb_reader(str(chapter), MdParserConfig(), NbParserConfig(), text)
    cache = get_cache(str(tmp_path / "cache"))
    _, builds = cache.create_hashed_notebook(reader.read(text))
    _, ours = cache.create_hashed_notebook(execute_chapters.read_chapter(chapter))
    assert ours == builds

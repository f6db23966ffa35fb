"""Every page of the built book stays light enough to read on a slow connection."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from page_sizes import LIMIT_MB, MB, book_pages, measure, table  # noqa: E402


def test_heaviest_page_of_the_book_is_under_the_limit():
    sizes = book_pages()  # fails, saying to run `make book`, without a build
    print(table(sizes))
    heaviest = sizes[0]
    assert heaviest.total_bytes < LIMIT_MB * MB, (
        f"{heaviest.page} weighs {heaviest.total_bytes / MB:.1f} MB, over {LIMIT_MB} MB:\n"
        + table(sizes)
    )


def test_a_page_counts_its_html_and_each_picture_file_once(tmp_path):
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "a.png").write_bytes(b"x" * 1000)
    (tmp_path / "_images" / "b%20c.png").write_bytes(b"x" * 500)
    page = tmp_path / "book" / "chapter.html"
    page.parent.mkdir()
    page.write_text(
        '<img src="../_images/a.png" alt="a"><img src="../_images/a.png" alt="again">'
        '<img src="../_images/b%2520c.png" alt="b"><img src="data:image/png;base64,AAAA" alt="d">'
    )
    size = measure(page)
    assert (size.html_bytes, size.images, size.image_bytes) == (page.stat().st_size, 2, 1500)
    assert book_pages(tmp_path)[0] == size


def test_a_missing_picture_or_build_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="make book"):
        book_pages(tmp_path)
    page = tmp_path / "book" / "chapter.html"
    page.parent.mkdir()
    page.write_text('<img src="../_images/gone.png" alt="gone">')
    with pytest.raises(FileNotFoundError, match="gone.png"):
        measure(page)

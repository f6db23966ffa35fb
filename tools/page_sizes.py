"""How much a reader downloads to see each page of the book: its HTML plus its images.

    python tools/page_sizes.py   # after `make book`

Pictures embedded in the HTML (the static selectors' ``data:`` images) count
as HTML; picture files (``_images/*.png``) count once per page that shows
them. Style sheets and scripts are shared by every page and cached, so they
are left out. ``tests/test_page_sizes.py`` keeps the heaviest chapter under
:data:`LIMIT_MB`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
HTML_DIR = ROOT / "_build" / "html"
LIMIT_MB = 15
MB = 1e6


@dataclass
class PageSize:
    page: str
    html_bytes: int
    images: int  # picture files shown
    image_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.html_bytes + self.image_bytes


class _ImageSources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        src = dict(attrs).get("src")
        if tag == "img" and src:
            self.sources.append(src)


def measure(page: Path) -> PageSize:
    """The size of one HTML page and of the distinct picture files it shows."""
    parser = _ImageSources()
    parser.feed(page.read_text())
    files = set()
    for src in parser.sources:
        url = urlsplit(src)
        if url.scheme or url.netloc:  # data: pictures are in the HTML already
            continue
        path = (page.parent / unquote(url.path)).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{page.name} shows {src}, which is not in the build")
        files.add(path)
    return PageSize(
        page=page.name,
        html_bytes=page.stat().st_size,
        images=len(files),
        image_bytes=sum(path.stat().st_size for path in files),
    )


def book_pages(html_dir: Path = HTML_DIR) -> list[PageSize]:
    """Every page of the book (``html_dir/book/*.html``), heaviest first."""
    pages = sorted((html_dir / "book").glob("*.html"))
    if not pages:
        raise FileNotFoundError(f"No built book in {html_dir}: run `make book` first.")
    return sorted(map(measure, pages), key=lambda size: size.total_bytes, reverse=True)


def table(sizes: list[PageSize]) -> str:
    lines = [f"{'page':<28} {'HTML':>8} {'pictures':>14} {'total':>8}"]
    for size in sizes:
        pictures = f"{size.image_bytes / MB:.2f} MB ({size.images})"
        lines.append(
            f"{size.page:<28} {size.html_bytes / MB:>5.2f} MB {pictures:>14}"
            f" {size.total_bytes / MB:>5.2f} MB"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        print(table(book_pages()))
    except FileNotFoundError as error:
        sys.exit(str(error))
